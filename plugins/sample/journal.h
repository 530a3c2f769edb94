/* The sampler's journal: every finished question's completions, appended to
 * the stage's state directory as they are emitted, so `sieve run --resume`
 * replays them instead of decoding them again and continues with the first
 * question the journal lacks.
 *
 * File: one header line (the settings that decide the completions), then k
 * lines per question in input order: {"q", "hash", "j", "ids", "text",
 * "finish", "logprob"}. A torn tail (a question with fewer than k lines) is
 * cut off when the journal is opened. Replay reads the journal in step with
 * the input (both in input order); `hash` (of the prompt's token ids) checks
 * that the input is the one the journal was written for. */
#ifndef SIEVE_SAMPLE_JOURNAL_H
#define SIEVE_SAMPLE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve/record.h"
#include "sieve/status.h"

typedef struct smp_journal smp_journal;

/* Opens DIR/journal.jsonl. With resume, keeps the questions it holds when its
 * header equals `settings` (one line of JSON, no newline); otherwise, and
 * without resume, starts it empty. *held: questions available to replay. */
sieve_status smp_journal_open(const char *dir, bool resume, const char *settings, int k,
                              smp_journal **out, int64_t *held, sieve_err *err);
void smp_journal_free(smp_journal *j);   /* NULL is fine */

/* The k stored completions of question q, which must be the next one to
 * replay (replay goes in input order): recs[0..k) are filled (the caller
 * frees them). Fails, naming the journal, when its prompt hash differs. */
sieve_status smp_journal_replay(smp_journal *j, int64_t q, uint64_t prompt_hash,
                                sieve_record *recs, sieve_err *err);

/* One completion of question q; smp_journal_commit after its k-th. */
sieve_status smp_journal_add(smp_journal *j, int64_t q, uint64_t prompt_hash, int sample,
                             const int32_t *ids, int n, const char *text, size_t tlen,
                             const char *finish, double logprob, sieve_err *err);
/* Flushes the question's lines to the file. */
sieve_status smp_journal_commit(smp_journal *j, sieve_err *err);

#endif
