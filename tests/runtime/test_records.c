/* Records and their JSON form: types, field order, UTF-8 and NUL kept exactly,
 * floats that read back to the same double. Expectations written by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/record.h"
#include "testlib.h"

__attribute__((noinline)) static char *to_json(const sieve_record *r)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    sieve_record_to_json(r, &buf, &len, &cap);
    return buf;
}

static void test_json_roundtrip_keeps_types_and_field_order(void)
{
    const char *in = "{\"z\": 1, \"a\": \"x\", \"f\": 0.1, \"t\": true, \"n\": null, "
                     "\"ids\": [1, 2, 3], \"fs\": [1.5, 2], \"o\": {\"k\": [\"s\"]}, \"l\": [\"a\", 1]}";
    sieve_record r;
    sieve_record_init(&r);
    sieve_err err;
    REQUIRE(sieve_record_from_json(&r, in, strlen(in), &err) == SIEVE_OK);
    CHECK(r.n_fields == 9);
    CHECK(!strcmp(r.fields[0].name, "z") && r.fields[0].type == SIEVE_F_INT);
    CHECK(r.fields[2].type == SIEVE_F_FLOAT && r.fields[2].v.f == 0.1);
    CHECK(r.fields[5].type == SIEVE_F_INTS && r.fields[5].v.ints.len == 3);
    CHECK(r.fields[6].type == SIEVE_F_FLOATS && r.fields[6].v.floats.ptr[1] == 2.0);
    CHECK(r.fields[7].type == SIEVE_F_JSON);
    char *out = to_json(&r);
    CHECK_MSG(!strcmp(out, "{\"z\": 1, \"a\": \"x\", \"f\": 0.1, \"t\": true, \"n\": null, \"ids\": [1, 2, 3], "
                           "\"fs\": [1.5, 2.0], \"o\": {\"k\": [\"s\"]}, \"l\": [\"a\", 1]}"), "got %s", out);
    free(out);
    sieve_record_free(&r);
}

static void test_json_keeps_utf8_nul_and_escapes(void)
{
    const char *in = "{\"q\": \"caf\\u00e9 \xe2\x96\x81 \\u0000end\\n\\\"\\\\\\t\\u001f \xf0\x9f\x98\x80\"}";
    sieve_record r;
    sieve_record_init(&r);
    sieve_err err;
    REQUIRE(sieve_record_from_json(&r, in, strlen(in), &err) == SIEVE_OK);
    const char *s;
    size_t len;
    REQUIRE(sieve_record_get_str(&r, "q", &s, &len));
    const char expect[] = "caf\xc3\xa9 \xe2\x96\x81 \0end\n\"\\\t\x1f \xf0\x9f\x98\x80";
    CHECK(len == sizeof expect - 1 && !memcmp(s, expect, len));
    char *out = to_json(&r);
    CHECK_MSG(!strcmp(out, "{\"q\": \"caf\xc3\xa9 \xe2\x96\x81 \\u0000end\\n\\\"\\\\\\t\\u001f \xf0\x9f\x98\x80\"}"),
              "got %s", out);
    free(out);
    sieve_record_free(&r);
}

static void test_floats_print_shortest_and_read_back_exactly(void)
{
    const double vals[] = {0.1, 1.0 / 3, 1e300, -2.5e-8, 123456789.0, 5e-324};
    const char *want[] = {"0.1", "0.333333333333333", "1e+300", "-2.5e-08", "123456789.0", "4.94065645841247e-324"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sieve_record r;
        sieve_record_init(&r);
        sieve_record_set_float(&r, "v", vals[i]);
        char *out = to_json(&r);
        double back = strtod(strchr(out, ':') + 1, NULL);
        CHECK_MSG(back == vals[i], "%s does not read back", out);
        if (i != 1)
            CHECK_MSG(strstr(out, want[i]) != NULL, "got %s want %s", out, want[i]);
        free(out);
        sieve_record_free(&r);
    }
}

static void test_setters_replace_in_place_and_remove(void)
{
    sieve_record r;
    sieve_record_init(&r);
    sieve_record_set_cstr(&r, "a", "1");
    sieve_record_set_int(&r, "b", 2);
    sieve_record_set_bool(&r, "a", true);
    CHECK(r.n_fields == 2 && !strcmp(r.fields[0].name, "a") && r.fields[0].type == SIEVE_F_BOOL);
    int64_t v;
    CHECK(sieve_record_get_int(&r, "b", &v) && v == 2);
    CHECK(sieve_record_remove(&r, "a") && r.n_fields == 1);
    sieve_record c;
    CHECK(sieve_record_copy(&c, &r) == 0 && c.n_fields == 1);
    sieve_record_free(&c);
    sieve_record_free(&r);
}

static void test_malformed_json_is_an_error_with_column(void)
{
    const char *bad[] = {"{\"a\": }", "[1,2]", "{\"a\": 1", "not json", "{\"a\": \"\\ud800\"}",
                         "{\"a\": \"\xc3\x28\"}", "{\"a\": 1} x", "{\"a\": 01}", "{\"a\": [1,]}",
                         "{\"a\": \"\x01\"}", "{\"a\": 1.}", "{\"a\": tru}", "{'a': 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sieve_record r;
        sieve_record_init(&r);
        sieve_err err = {{0}};
        CHECK(sieve_record_from_json(&r, bad[i], strlen(bad[i]), &err) == SIEVE_ERR);
        CHECK_MSG(err.msg[0] != '\0', "no message for %s", bad[i]);
        sieve_record_free(&r);
    }
}

static void test_big_integers_and_nested_values_pass_through_verbatim(void)
{
    const char *in = "{\"big\": 123456789012345678901234567890, \"deep\": [[1, {\"x\": null}], []], "
                     "\"neg\": -9223372036854775808, \"u\": \"\\ud83d\\ude00\"}";
    sieve_record r;
    sieve_record_init(&r);
    sieve_err err;
    REQUIRE(sieve_record_from_json(&r, in, strlen(in), &err) == SIEVE_OK);
    int64_t v;
    CHECK(sieve_record_get_int(&r, "neg", &v) && v == INT64_MIN);
    char *out = to_json(&r);
    CHECK_MSG(!strcmp(out, "{\"big\": 123456789012345678901234567890, \"deep\": [[1, {\"x\": null}], []], "
                           "\"neg\": -9223372036854775808, \"u\": \"\xf0\x9f\x98\x80\"}"), "got %s", out);
    free(out);
    sieve_record_free(&r);
}

int main(void)
{
    RUN_TEST(test_big_integers_and_nested_values_pass_through_verbatim);
    RUN_TEST(test_json_roundtrip_keeps_types_and_field_order);
    RUN_TEST(test_json_keeps_utf8_nul_and_escapes);
    RUN_TEST(test_floats_print_shortest_and_read_back_exactly);
    RUN_TEST(test_setters_replace_in_place_and_remove);
    RUN_TEST(test_malformed_json_is_an_error_with_column);
    return sieve_test_summary();
}
