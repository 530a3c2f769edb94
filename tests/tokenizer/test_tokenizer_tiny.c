/* The tokenizer against tiny SentencePiece models whose protobuf bytes this
 * test writes itself, with expectations computed by hand from SentencePiece's
 * BPE rules: merge the pair whose merged piece scores highest, leftmost on
 * ties; unknown characters become <0xNN> byte pieces (byte fallback) or one
 * <unk> per run; user-defined pieces stay whole; unused pieces are split
 * back; and the matching decode rules. Also: malformed model files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/tokenizer.h"
#include "testlib.h"

/* ---- a protobuf writer independent of the library's ---- */
typedef struct buf {
    unsigned char d[1 << 16];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void varint(buf *b, unsigned long long v)
{
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        put(b, &c, 1);
    } while (v);
}
static void field_bytes(buf *b, int field, const void *p, size_t n)
{
    varint(b, (unsigned)field << 3 | 2);
    varint(b, n);
    put(b, p, n);
}
static void field_varint(buf *b, int field, unsigned long long v)
{
    varint(b, (unsigned)field << 3);
    varint(b, v);
}
static void piece(buf *m, const char *text, float score, int type)
{
    buf p = {.n = 0};
    field_bytes(&p, 1, text, strlen(text));
    unsigned char f[5] = {2 << 3 | 5};
    memcpy(f + 1, &score, 4);   /* little-endian host, as protobuf's fixed32 */
    put(&p, f, 5);
    if (type != 1)
        field_varint(&p, 3, (unsigned)type);
    field_bytes(m, 1, p.d, p.n);
}

#define UNK 2
#define CTRL 3
#define USER 4
#define UNUSED 5
#define BYTE 6

enum { MODEL_A, MODEL_B, MODEL_C, MODEL_UNIGRAM };

/* A: byte fallback. B: no byte pieces, `bc` unused, `<sep>` user-defined.
 * C: B with remove_extra_whitespaces. */
static void build(buf *m, int which)
{
    m->n = 0;
    piece(m, "<unk>", 0, UNK);
    piece(m, "<s>", 0, CTRL);
    piece(m, "</s>", 0, CTRL);
    if (which == MODEL_A)
        for (int i = 0; i < 256; i++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", i);
            piece(m, name, 0, BYTE);
        }
    piece(m, "a", -100, 1);
    piece(m, "b", -100, 1);
    piece(m, "c", -100, 1);
    piece(m, "\xe2\x96\x81", -100, 1);       /* ▁ */
    piece(m, "ab", -1, 1);
    piece(m, "bc", -2, which == MODEL_A ? 1 : UNUSED);
    piece(m, "abc", -3, 1);
    piece(m, "\xe2\x96\x81" "a", -4, 1);     /* ▁a */
    piece(m, "\xe2\x96\x81" "ab", -5, 1);    /* ▁ab */
    piece(m, "aa", -0.5f, 1);
    piece(m, "\xc3\xa9", -100, 1);           /* é */
    if (which != MODEL_A)
        piece(m, "<sep>", 0, USER);
    buf t = {.n = 0};
    field_varint(&t, 3, which == MODEL_UNIGRAM ? 1 : 2);   /* model_type */
    if (which == MODEL_A)
        field_varint(&t, 35, 1);                           /* byte_fallback */
    field_bytes(m, 2, t.d, t.n);
    buf nz = {.n = 0};
    field_bytes(&nz, 1, "identity", 8);
    field_varint(&nz, 3, 1);
    field_varint(&nz, 4, which == MODEL_C);
    field_bytes(m, 3, nz.d, nz.n);
}

static sieve_tokenizer *load(int which)
{
    static buf m;
    build(&m, which);
    sieve_tokenizer *tok = NULL;
    sieve_err err;
    if (sieve_tokenizer_load_buffer(m.d, m.n, &tok, &err) != SIEVE_OK)
        fprintf(stderr, "load failed: %s\n", err.msg);
    return tok;
}

/* ids of model A; model B/C ids are 256 lower for the normal pieces */
enum { A_a = 259, A_b, A_c, A_SP, A_ab, A_bc, A_abc, A_SPa, A_SPab, A_aa, A_e };
#define B(id) ((id) - 256)
#define B_SEP 14

static bool encodes(const sieve_tokenizer *tok, const char *text, unsigned flags,
                    const int *want, size_t n)
{
    sieve_tok_buf b = {0};
    sieve_err err;
    bool ok = sieve_tokenizer_encode(tok, text, strlen(text), flags, &b, &err) == SIEVE_OK &&
              b.n == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = b.ids[i] == want[i];
    if (!ok) {
        fprintf(stderr, "  encode(\"%s\") gave", text);
        for (size_t i = 0; i < b.n; i++)
            fprintf(stderr, " %d", b.ids[i]);
        fprintf(stderr, "\n");
    }
    sieve_tok_buf_free(&b);
    return ok;
}

static bool decodes(const sieve_tokenizer *tok, const int *ids, size_t n, const char *want)
{
    char *text;
    size_t len;
    sieve_err err;
    if (sieve_tokenizer_decode(tok, (const int32_t *)ids, n, &text, &len, &err) != SIEVE_OK) {
        fprintf(stderr, "  decode failed: %s\n", err.msg);
        return false;
    }
    bool ok = len == strlen(want) && memcmp(text, want, len) == 0;
    if (!ok)
        fprintf(stderr, "  decode gave \"%s\", expected \"%s\"\n", text, want);
    free(text);
    return ok;
}

#define ENC(tok, text, flags, ...) do { \
    const int want_[] = {__VA_ARGS__}; \
    CHECK_MSG(encodes(tok, text, flags, want_, sizeof want_ / sizeof *want_), "%s", text); \
} while (0)
#define DEC(tok, want, ...) do { \
    const int ids_[] = {__VA_ARGS__}; \
    CHECK(decodes(tok, ids_, sizeof ids_ / sizeof *ids_, want)); \
} while (0)

static void test_highest_scoring_merge_wins_and_stale_pairs_are_skipped(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    /* ▁ a b c: ab(-1) first, then abc(-3); ▁a(-4) and ▁ab(-5) are stale */
    ENC(tok, "abc", 0, A_SP, A_abc);
    /* ▁ a b: ab(-1), then ▁ab(-5) */
    ENC(tok, "ab", 0, A_SPab);
    ENC(tok, "ab", SIEVE_TOK_BOS | SIEVE_TOK_EOS, 1, A_SPab, 2);
    /* ▁ a c: only ▁a exists */
    ENC(tok, "ac", 0, A_SPa, A_c);
    sieve_tokenizer_free(tok);
}

static void test_equal_scores_merge_leftmost_first(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    /* ▁ a a a: aa(-0.5) at positions 1 and 2; the left one wins, which
     * blocks ▁a. Rightmost-first would give ▁a aa. */
    ENC(tok, "aaa", 0, A_SP, A_aa, A_a);
    sieve_tokenizer_free(tok);
}

static void test_unknown_characters_fall_back_to_utf8_byte_pieces(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    /* € = E2 82 AC is not a piece: three byte pieces (id 3 + byte) */
    ENC(tok, "ab\xe2\x82\xac", 0, A_SPab, 3 + 0xE2, 3 + 0x82, 3 + 0xAC);
    /* é is a piece, even though it is two bytes */
    ENC(tok, "\xc3\xa9", 0, A_SP, A_e);
    /* a malformed byte becomes U+FFFD (EF BF BD), which falls back to bytes */
    ENC(tok, "a\xff", 0, A_SPa, 3 + 0xEF, 3 + 0xBF, 3 + 0xBD);
    DEC(tok, "ab\xe2\x82\xac", A_SPab, 3 + 0xE2, 3 + 0x82, 3 + 0xAC);
    /* bytes that do not form a character decode to U+FFFD each */
    DEC(tok, "\xef\xbf\xbd\xef\xbf\xbd" "a", 3 + 0xE2, 3 + 0x82, A_a);
    sieve_tokenizer_free(tok);
}

static void test_spaces_become_pieces_and_decode_drops_only_the_dummy_prefix(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    /* "a  b" -> ▁a ▁ ▁ b (no ▁▁ or ▁b piece) */
    ENC(tok, "a  b", 0, A_SPa, A_SP, A_SP, A_b);
    DEC(tok, "a  b", A_SPa, A_SP, A_SP, A_b);
    /* " a" -> ▁ ▁a: the first ▁ is the dummy prefix, the second is kept */
    ENC(tok, " a", 0, A_SP, A_SPa);
    DEC(tok, " a", A_SP, A_SPa);
    /* control pieces vanish */
    DEC(tok, "a", 1, A_SPa, 2);
    sieve_tokenizer_free(tok);
}

static void test_empty_text_gives_no_ids(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    sieve_tok_buf b = {0};
    sieve_err err;
    CHECK(sieve_tokenizer_encode(tok, "", 0, 0, &b, &err) == SIEVE_OK && b.n == 0);
    CHECK(sieve_tokenizer_encode(tok, "", 0, SIEVE_TOK_BOS, &b, &err) == SIEVE_OK && b.n == 1 &&
          b.ids[0] == 1);
    sieve_tok_buf_free(&b);
    sieve_tokenizer_free(tok);
}

static void test_without_byte_fallback_a_run_of_unknowns_is_one_unk(void)
{
    sieve_tokenizer *tok = load(MODEL_B);
    REQUIRE(tok);
    ENC(tok, "a\xe2\x82\xac\xe2\x82\xac" "b", 0, B(A_SPa), 0, B(A_b));
    DEC(tok, "a \xe2\x81\x87 b", B(A_SPa), 0, B(A_b));
    sieve_tokenizer_free(tok);
}

static void test_user_defined_pieces_stay_whole(void)
{
    sieve_tokenizer *tok = load(MODEL_B);
    REQUIRE(tok);
    ENC(tok, "a<sep>b", 0, B(A_SPa), B_SEP, B(A_b));
    sieve_tokenizer_free(tok);
}

static void test_unused_pieces_are_split_back(void)
{
    sieve_tokenizer *tok = load(MODEL_B);
    REQUIRE(tok);
    /* ▁ b c: bc merges (unused), then it is resegmented into b c */
    ENC(tok, "bc", 0, B(A_SP), B(A_b), B(A_c));
    sieve_tokenizer_free(tok);
}

static void test_remove_extra_whitespaces_folds_spaces(void)
{
    sieve_tokenizer *tok = load(MODEL_C);
    REQUIRE(tok);
    ENC(tok, "  a  b  ", 0, B(A_SPa), B(A_SP), B(A_b));
    DEC(tok, "a b", B(A_SPa), B(A_SP), B(A_b));
    sieve_tokenizer_free(tok);
}

static void test_special_ids_and_piece_lookup(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    CHECK(sieve_tokenizer_vocab_size(tok) == A_e + 1);
    CHECK(sieve_tokenizer_bos_id(tok) == 1);
    CHECK(sieve_tokenizer_eos_id(tok) == 2);
    CHECK(sieve_tokenizer_unk_id(tok) == 0);
    CHECK(sieve_tokenizer_pad_id(tok) == -1);
    size_t len;
    const char *p = sieve_tokenizer_piece(tok, A_SPab, &len);
    CHECK(p && len == 5 && !memcmp(p, "\xe2\x96\x81" "ab", 5));
    CHECK(sieve_tokenizer_piece_id(tok, "<0x41>", 6) == 3 + 0x41);
    CHECK(sieve_tokenizer_piece_id(tok, "zz", 2) == -1);
    CHECK(sieve_tokenizer_piece(tok, 100000, NULL) == NULL);
    CHECK(sieve_tokenizer_piece_type(tok, 1) == SIEVE_PIECE_CONTROL);
    CHECK(sieve_tokenizer_score(tok, A_aa) == -0.5f);
    sieve_tokenizer_free(tok);
}

static void test_decode_rejects_out_of_range_ids(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    int32_t ids[] = {A_a, 99999};
    char *text;
    sieve_err err;
    CHECK(sieve_tokenizer_decode(tok, ids, 2, &text, NULL, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "99999") != NULL);
    sieve_tokenizer_free(tok);
}

/* Pushes ids one at a time; each chunk must be what is listed. */
static void test_stream_decoder_holds_back_partial_characters(void)
{
    sieve_tokenizer *tok = load(MODEL_A);
    REQUIRE(tok);
    sieve_tok_stream *s = sieve_tok_stream_new(tok);
    REQUIRE(s);
    const char *out;
    size_t n;
    sieve_err err;
    int32_t ids[] = {A_SPa, 3 + 0xE2, 3 + 0x82, 3 + 0xAC, A_SP, A_b};
    const char *want[] = {"a", "", "", "\xe2\x82\xac", " ", "b"};
    for (int i = 0; i < 6; i++) {
        CHECK(sieve_tok_stream_push(s, ids[i], &out, &n, &err) == SIEVE_OK);
        CHECK_MSG(n == strlen(want[i]) && !memcmp(out, want[i], n), "step %d", i);
    }
    CHECK(sieve_tok_stream_finish(s, &out, &n, &err) == SIEVE_OK && n == 0);
    /* an unfinished character comes out as U+FFFD per byte at the end */
    sieve_tok_stream_reset(s);
    CHECK(sieve_tok_stream_push(s, 3 + 0xE2, &out, &n, &err) == SIEVE_OK && n == 0);
    CHECK(sieve_tok_stream_push(s, 3 + 0x82, &out, &n, &err) == SIEVE_OK && n == 0);
    CHECK(sieve_tok_stream_finish(s, &out, &n, &err) == SIEVE_OK && n == 6 &&
          !memcmp(out, "\xef\xbf\xbd\xef\xbf\xbd", 6));
    /* a byte that cannot start a character is final at once */
    sieve_tok_stream_reset(s);
    CHECK(sieve_tok_stream_push(s, 3 + 0x82, &out, &n, &err) == SIEVE_OK && n == 3);
    /* after a reset the dummy-prefix rule applies again */
    sieve_tok_stream_reset(s);
    CHECK(sieve_tok_stream_push(s, A_SPa, &out, &n, &err) == SIEVE_OK && n == 1 && out[0] == 'a');
    CHECK(sieve_tok_stream_push(s, -1, &out, &n, &err) == SIEVE_ERR);
    sieve_tok_stream_free(s);
    sieve_tokenizer_free(tok);
}

static void test_library_writer_output_encodes_like_the_hand_written_model(void)
{
    sieve_tok_piece_spec ps[300];
    char names[256][8];
    int k = 0;
    ps[k++] = (sieve_tok_piece_spec){"<unk>", 0, SIEVE_PIECE_UNKNOWN};
    ps[k++] = (sieve_tok_piece_spec){"<s>", 0, SIEVE_PIECE_CONTROL};
    ps[k++] = (sieve_tok_piece_spec){"</s>", 0, SIEVE_PIECE_CONTROL};
    for (int i = 0; i < 256; i++) {
        snprintf(names[i], sizeof names[i], "<0x%02X>", i);
        ps[k++] = (sieve_tok_piece_spec){names[i], 0, SIEVE_PIECE_BYTE};
    }
    const char *texts[] = {"a", "b", "c", "\xe2\x96\x81", "ab", "bc", "abc", "\xe2\x96\x81" "a",
                           "\xe2\x96\x81" "ab", "aa", "\xc3\xa9"};
    const float scores[] = {-100, -100, -100, -100, -1, -2, -3, -4, -5, -0.5f, -100};
    for (int i = 0; i < 11; i++)
        ps[k++] = (sieve_tok_piece_spec){texts[i], scores[i], SIEVE_PIECE_NORMAL};
    sieve_tok_model_spec spec = {ps, k, true, true, false, 0, 1, 2, -1};
    char *dir = sieve_test_tmpdir("tok-writer");
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    sieve_err err;
    REQUIRE(sieve_tokenizer_write_model(path, &spec, &err) == SIEVE_OK);
    sieve_tokenizer *tok;
    REQUIRE(sieve_tokenizer_load(dir, &tok, &err) == SIEVE_OK);   /* by directory */
    ENC(tok, "abc", 0, A_SP, A_abc);
    ENC(tok, "aaa", 0, A_SP, A_aa, A_a);
    ENC(tok, "ab\xe2\x82\xac", 0, A_SPab, 3 + 0xE2, 3 + 0x82, 3 + 0xAC);
    sieve_tokenizer_free(tok);
    /* the writer refuses what the loader would refuse */
    spec.n_pieces = 100;   /* cuts the byte pieces short */
    CHECK(sieve_tokenizer_write_model(path, &spec, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "<0x61>") != NULL);
    sieve_test_tmpdir_done(dir);
    free(dir);
}

static void test_trainer_merges_most_frequent_pairs_first_and_keeps_digits_single(void)
{
    /* words: ▁ab x3, ▁abc x1, and ▁ 1 2 (digits split off) x2.
     * Pair counts: ▁a 4, ab 4, bc 1: the tie goes to the smaller text "ab".
     * Then ▁+ab 4; then nothing occurs twice, so training stops early.
     * Characters follow by frequency, ties by text: ▁ (6) a b (4) 1 2 (2) c (1). */
    const char *texts[] = {"ab ab ab", "abc", "12 12"};
    size_t lens[] = {8, 3, 5};
    char *dir = sieve_test_tmpdir("tok-train");
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    sieve_err err;
    REQUIRE(sieve_tokenizer_train_bpe(texts, lens, 3, 400, path, &err) == SIEVE_OK);
    sieve_tokenizer *tok;
    REQUIRE(sieve_tokenizer_load(path, &tok, &err) == SIEVE_OK);
    CHECK(sieve_tokenizer_vocab_size(tok) == 259 + 2 + 6);
    const char *want[] = {"ab", "\xe2\x96\x81" "ab", "\xe2\x96\x81", "a", "b", "1", "2", "c"};
    for (int i = 0; i < 8; i++) {
        const char *p = sieve_tokenizer_piece(tok, 259 + i, NULL);
        CHECK_MSG(p && !strcmp(p, want[i]), "piece %d is '%s', expected '%s'", 259 + i,
                  p ? p : "(none)", want[i]);
    }
    CHECK(sieve_tokenizer_score(tok, 259) > sieve_tokenizer_score(tok, 260));
    ENC(tok, "ab abc", 0, 260, 260, 266);
    ENC(tok, "12", 0, 261, 264, 265);
    ENC(tok, "x", 0, 261, 3 + 'x');   /* unseen: byte fallback */
    sieve_tokenizer_free(tok);
    /* too small a vocabulary for the characters */
    CHECK(sieve_tokenizer_train_bpe(texts, lens, 3, 262, path, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "distinct characters") != NULL);
    sieve_test_tmpdir_done(dir);
    free(dir);
}

/* ---- malformed files ---- */

static void expect_load_error(const void *data, size_t n, const char *fragment)
{
    sieve_tokenizer *tok = (sieve_tokenizer *)1;
    sieve_err err = {{0}};
    CHECK(sieve_tokenizer_load_buffer(data, n, &tok, &err) == SIEVE_ERR);
    CHECK(tok == NULL);
    CHECK_MSG(strstr(err.msg, fragment) != NULL, "message '%s' lacks '%s'", err.msg, fragment);
}

static void test_malformed_models_fail_with_clear_messages(void)
{
    static buf m;
    expect_load_error("", 0, "no pieces");
    expect_load_error("\x0a\x80", 2, "truncated");             /* varint cut short */
    expect_load_error("\x0a\x05\x0a\x01", 4, "past the end");   /* length past end */
    expect_load_error("\x0f", 1, "wire type");                   /* field 1, wire type 7 */
    expect_load_error("\x0d\x00\x00", 3, "wire type");           /* pieces as fixed32 */
    build(&m, MODEL_UNIGRAM);
    expect_load_error(m.d, m.n, "only BPE");
    /* a byte piece although byte_fallback is false */
    buf x = {.n = 0};
    piece(&x, "<unk>", 0, UNK);
    piece(&x, "<0x41>", 0, BYTE);
    buf t = {.n = 0};
    field_varint(&t, 3, 2);
    field_bytes(&x, 2, t.d, t.n);
    expect_load_error(x.d, x.n, "byte_fallback");
    /* no unknown piece */
    x.n = 0;
    piece(&x, "a", 0, 1);
    field_bytes(&x, 2, t.d, t.n);
    expect_load_error(x.d, x.n, "unknown piece");
    /* a duplicate */
    x.n = 0;
    piece(&x, "<unk>", 0, UNK);
    piece(&x, "a", 0, 1);
    piece(&x, "a", 0, 1);
    field_bytes(&x, 2, t.d, t.n);
    expect_load_error(x.d, x.n, "already defined");
    /* an empty piece */
    x.n = 0;
    piece(&x, "<unk>", 0, UNK);
    piece(&x, "", 0, 1);
    field_bytes(&x, 2, t.d, t.n);
    expect_load_error(x.d, x.n, "empty");
    /* byte_fallback without all 256 byte pieces */
    x.n = 0;
    piece(&x, "<unk>", 0, UNK);
    piece(&x, "<0x00>", 0, BYTE);
    buf t2 = {.n = 0};
    field_varint(&t2, 3, 2);
    field_varint(&t2, 35, 1);
    field_bytes(&x, 2, t2.d, t2.n);
    expect_load_error(x.d, x.n, "<0x01> is missing");
}

static void test_real_model_cut_or_flipped_fails_cleanly(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer/llama2/tokenizer.model",
             sieve_test_env("SIEVE_SHARED_DATA"));
    size_t n;
    char *data = sieve_test_read_file(path, &n);
    REQUIRE(data);
    sieve_err err;
    /* truncations at many points: an error, never a crash (ASan run checks leaks) */
    size_t cuts[] = {1, 2, 3, 7, 100, 1000, 4096, n / 3, n / 2, n - 300, n - 10, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        sieve_tokenizer *tok = NULL;
        sieve_status st = sieve_tokenizer_load_buffer(data, cuts[i], &tok, &err);
        CHECK_MSG(st == SIEVE_ERR && tok == NULL, "cut at %zu loaded", cuts[i]);
        CHECK_MSG(err.msg[0] != '\0', "cut at %zu: no message", cuts[i]);
    }
    /* flipped bytes: either an error or a working tokenizer, never a crash */
    unsigned seed = 12345;
    for (int i = 0; i < 50; i++) {   /* more in test_tokenizer_fuzz_replay_model */
        char *copy = malloc(n);
        memcpy(copy, data, n);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % n] ^= (char)(1 + (seed >> 3) % 255);
        }
        sieve_tokenizer *tok = NULL;
        if (sieve_tokenizer_load_buffer(copy, n, &tok, &err) == SIEVE_OK) {
            sieve_tok_buf b = {0};
            CHECK(sieve_tokenizer_encode(tok, "Hello world 123 \xe2\x82\xac", 19, 0, &b, &err) ==
                  SIEVE_OK);
            sieve_tok_buf_free(&b);
            sieve_tokenizer_free(tok);
        }
        free(copy);
    }
    free(data);
    /* a directory without tokenizer.model, and a missing file */
    char *dir = sieve_test_tmpdir("tok-empty");
    sieve_tokenizer *tok;
    CHECK(sieve_tokenizer_load(dir, &tok, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "no tokenizer.model") != NULL);
    CHECK(sieve_tokenizer_load("/nonexistent/tokenizer.model", &tok, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "/nonexistent/tokenizer.model") != NULL);
    sieve_test_tmpdir_done(dir);
    free(dir);
}

int main(void)
{
    RUN_TEST(test_highest_scoring_merge_wins_and_stale_pairs_are_skipped);
    RUN_TEST(test_equal_scores_merge_leftmost_first);
    RUN_TEST(test_unknown_characters_fall_back_to_utf8_byte_pieces);
    RUN_TEST(test_spaces_become_pieces_and_decode_drops_only_the_dummy_prefix);
    RUN_TEST(test_empty_text_gives_no_ids);
    RUN_TEST(test_without_byte_fallback_a_run_of_unknowns_is_one_unk);
    RUN_TEST(test_user_defined_pieces_stay_whole);
    RUN_TEST(test_unused_pieces_are_split_back);
    RUN_TEST(test_remove_extra_whitespaces_folds_spaces);
    RUN_TEST(test_special_ids_and_piece_lookup);
    RUN_TEST(test_decode_rejects_out_of_range_ids);
    RUN_TEST(test_stream_decoder_holds_back_partial_characters);
    RUN_TEST(test_library_writer_output_encodes_like_the_hand_written_model);
    RUN_TEST(test_trainer_merges_most_frequent_pairs_first_and_keeps_digits_single);
    RUN_TEST(test_malformed_models_fail_with_clear_messages);
    RUN_TEST(test_real_model_cut_or_flipped_fails_cleanly);
    return sieve_test_summary();
}
