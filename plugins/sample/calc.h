/* Calculator mode (GSM8K's sampling trick): when the completion so far ends
 * with "<<expr=" (an annotation left open), the sampler evaluates expr and
 * forces "result>>". */
#ifndef SIEVE_SAMPLE_CALC_H
#define SIEVE_SAMPLE_CALC_H

#include <stdbool.h>
#include <stddef.h>

/* True when the build has the gsm8k plugin's safe evaluator. */
bool smp_calc_available(void);

/* If text ends inside an open "<<" annotation right after its first '=',
 * with an expression GSM8K's calculator accepts (commas dropped, only
 * "0123456789*+-/.()"), writes "result>>" to out (NUL-terminated) and
 * returns true. Integral results print as integers, others with the fewest
 * digits that round-trip. */
bool smp_calc_continuation(const char *text, size_t len, char *out, size_t cap);

#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
#include <stdint.h>

#include "sieve/tokenizer.h"
/* Token ids that decode to exactly `text` in the middle of a sequence: the
 * longest normal piece (without the word-start marker) at each point, byte
 * pieces as a fallback. Returns the count (at most max), or 0 when the text
 * cannot be spelled or does not fit. */
int smp_calc_spell(const sieve_tokenizer *tok, const char *text, int32_t *ids, int max);
#endif

#endif
