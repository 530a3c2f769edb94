/* Prompt templates, the one way every stage renders a record into text.
 * A template is a text with {field} placeholders ({{ and }} are literal
 * braces); {query} falls back to the record's `question`, since GSM8K records
 * carry `question` and the paper calls it the query. Named templates:
 *   alpaca  the RFT paper's prompt (Stanford Alpaca's prompt_no_input with the
 *           question as the instruction)
 *   plain   the question alone: "{query}" */
#ifndef SIEVE_TEMPLATE_H
#define SIEVE_TEMPLATE_H

#include <stddef.h>

#include "sieve/record.h"
#include "sieve/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The text of a named template, or name_or_text itself. */
const char *sieve_template_text(const char *name_or_text);

/* Renders the record through the template text. Returns a malloc'd string
 * (its length in *len when non-NULL), or NULL with err set (a placeholder the
 * record cannot fill, an unclosed brace, out of memory). Strings are used as
 * they are; numbers and booleans as JSON writes them. */
char *sieve_template_render(const char *tmpl, const sieve_record *r, size_t *len, sieve_err *err);

#ifdef __cplusplus
}
#endif
#endif
