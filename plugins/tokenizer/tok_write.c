/* Writing a SentencePiece BPE model file (ModelProto) from a list of pieces:
 * what the tests and the BPE trainer use to make their own small models. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_internal.h"

static bool put_bool(tok_sb *b, uint32_t field, bool v)
{
    return tok_sb_key(b, field, TOK_WT_VARINT) && tok_sb_varint(b, v ? 1 : 0);
}

/* int32 fields: negative values are sign-extended to 64 bits, as protobuf does */
static bool put_int32(tok_sb *b, uint32_t field, int v)
{
    return tok_sb_key(b, field, TOK_WT_VARINT) && tok_sb_varint(b, (uint64_t)(int64_t)v);
}

static bool put_piece_name(tok_sb *b, uint32_t field, const sieve_tok_model_spec *spec, int id)
{
    if (id < 0 || id >= spec->n_pieces || !spec->pieces[id].piece)
        return true;
    const char *s = spec->pieces[id].piece;
    return tok_sb_bytes(b, field, s, strlen(s));
}

sieve_status sieve_tokenizer_serialize(const sieve_tok_model_spec *spec, char **data,
                                       size_t *len, sieve_err *err)
{
    *data = NULL;
    *len = 0;
    tok_sb m = {0}, sub = {0};
    bool ok = true;
    for (int i = 0; ok && i < spec->n_pieces; i++) {
        const sieve_tok_piece_spec *p = &spec->pieces[i];
        if (!p->piece) {
            free(m.p);
            return sieve_fail(err, "piece %d has no text", i);
        }
        uint32_t bits;
        memcpy(&bits, &p->score, 4);
        sub.n = 0;
        ok = tok_sb_bytes(&sub, 1, p->piece, strlen(p->piece)) && tok_sb_fixed32(&sub, 2, bits) &&
             (p->type == SIEVE_PIECE_NORMAL || put_int32(&sub, 3, (int)p->type)) &&
             tok_sb_bytes(&m, 1, sub.p, sub.n);
    }
    /* trainer_spec */
    sub.n = 0;
    ok = ok && put_int32(&sub, 3, 2) /* BPE */ && put_int32(&sub, 4, spec->n_pieces) &&
         put_bool(&sub, 35, spec->byte_fallback) && put_int32(&sub, 40, spec->unk_id) &&
         put_int32(&sub, 41, spec->bos_id) && put_int32(&sub, 42, spec->eos_id) &&
         put_int32(&sub, 43, spec->pad_id) && put_piece_name(&sub, 45, spec, spec->unk_id) &&
         put_piece_name(&sub, 46, spec, spec->bos_id) &&
         put_piece_name(&sub, 47, spec, spec->eos_id) &&
         put_piece_name(&sub, 48, spec, spec->pad_id) && tok_sb_bytes(&m, 2, sub.p, sub.n);
    /* normalizer_spec: identity, no character map */
    sub.n = 0;
    ok = ok && tok_sb_bytes(&sub, 1, "identity", 8) && put_bool(&sub, 3, spec->add_dummy_prefix) &&
         put_bool(&sub, 4, spec->remove_extra_whitespaces) && put_bool(&sub, 5, true) &&
         tok_sb_bytes(&m, 3, sub.p, sub.n);
    free(sub.p);
    if (!ok) {
        free(m.p);
        return sieve_fail(err, "out of memory");
    }
    /* the loader's checks are the spec's checks */
    sieve_tokenizer *tok;
    if (sieve_tokenizer_load_buffer(m.p, m.n, &tok, err) != SIEVE_OK) {
        free(m.p);
        sieve_err_prefix(err, "invalid model spec");
        return SIEVE_ERR;
    }
    sieve_tokenizer_free(tok);
    *data = m.p;
    *len = m.n;
    return SIEVE_OK;
}

sieve_status sieve_tokenizer_write_model(const char *path, const sieve_tok_model_spec *spec,
                                         sieve_err *err)
{
    char *data;
    size_t len;
    if (sieve_tokenizer_serialize(spec, &data, &len, err) != SIEVE_OK)
        return SIEVE_ERR;
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        free(data);
        return sieve_fail(err, "out of memory");
    }
    FILE *f = fopen(tmp, "wb");
    sieve_status st = SIEVE_OK;
    if (!f) {
        st = sieve_fail(err, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        bool ok = fwrite(data, 1, len, f) == len;
        ok = (fclose(f) == 0) && ok;
        if (!ok)
            st = sieve_fail(err, "cannot write %s: %s", tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            st = sieve_fail(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (st != SIEVE_OK)
            unlink(tmp);
    }
    free(tmp);
    free(data);
    return st;
}
