/* JSON reader and writer: valid and invalid documents, escapes, numbers, limits. */
#define TEST_FILE "test_json"
#include "test.h"

#include "clvae/io/json.h"

#include <math.h>
#include <stdint.h>

#define WHAT "doc.json"

/* Parses n bytes; returns the status and fills *out (free it) and err. */
static clvae_status_t parse_n(const char *text, size_t n, clvae_json_t **out, clvae_error_t *err)
{
    clvae_error_clear(err);
    return clvae_json_parse(text, n, WHAT, out, err);
}

static void t_valid_and_invalid_table(void)
{
    /* len 0 means strlen(text); otherwise the exact byte count (for embedded NULs). */
    static const struct {
        const char *text;
        size_t len;
        int valid;
        const char *note;
    } cases[] = {
        {"{}", 0, 1, "empty object"},
        {"[]", 0, 1, "empty array"},
        {"0", 0, 1, "zero"},
        {"-0", 0, 1, "negative zero"},
        {"1.5e-3", 0, 1, "fraction and exponent"},
        {"1E+2", 0, 1, "capital exponent with sign"},
        {"\"x\"", 0, 1, "string"},
        {"true", 0, 1, "true"},
        {"false", 0, 1, "false"},
        {"null", 0, 1, "null"},
        {" \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] } \n", 0, 1, "whitespace everywhere"},
        {"\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\"", 0, 1, "every escape"},
        {"\"\\ud83d\\ude00\"", 0, 1, "surrogate pair"},
        {"\"\xc3\x9avod \xf0\x9f\x98\x80\"", 0, 1, "raw UTF-8"},
        {"{\"\":0}", 0, 1, "empty key"},
        {"\"\\u0000\"", 0, 1, "escaped NUL"},
        {"\"\x7f\"", 0, 1, "raw DEL"},
        {"[1e308, -1e-400]", 0, 1, "large and underflowing numbers"},
        {"{\"a\":1,\"b\":{\"a\":2}}", 0, 1, "same key at different levels"},
        {"", 0, 0, "empty text"},
        {"   ", 0, 0, "only whitespace"},
        {"{", 0, 0, "unclosed object"},
        {"}", 0, 0, "close without open"},
        {"[1,]", 0, 0, "trailing comma in array"},
        {"{\"a\":1,}", 0, 0, "trailing comma in object"},
        {"[,1]", 0, 0, "leading comma"},
        {"01", 0, 0, "leading zero"},
        {"-01", 0, 0, "negative leading zero"},
        {"[00]", 0, 0, "double zero"},
        {"1.", 0, 0, "no digit after point"},
        {".5", 0, 0, "no digit before point"},
        {"+1", 0, 0, "plus sign"},
        {"-", 0, 0, "lone minus"},
        {"1e", 0, 0, "empty exponent"},
        {"1e+", 0, 0, "signed empty exponent"},
        {"0x10", 0, 0, "hex number"},
        {"NaN", 0, 0, "NaN"},
        {"Infinity", 0, 0, "Infinity"},
        {"1e400", 0, 0, "number out of range"},
        {"'a'", 0, 0, "single quotes"},
        {"{a:1}", 0, 0, "bare key"},
        {"{\"a\" 1}", 0, 0, "missing colon"},
        {"{\"a\":1 \"b\":2}", 0, 0, "missing comma in object"},
        {"[1 2]", 0, 0, "missing comma in array"},
        {"{1:2}", 0, 0, "number key"},
        {"\"abc", 0, 0, "unterminated string"},
        {"\"abc\\", 0, 0, "unterminated escape"},
        {"\"a\x01" "b\"", 0, 0, "raw control character"},
        {"\"a\tb\"", 0, 0, "raw tab"},
        {"\"a\nb\"", 0, 0, "raw newline"},
        {"\"\\x41\"", 0, 0, "unknown escape"},
        {"\"\\u12\"", 0, 0, "short \\u"},
        {"\"\\u12G4\"", 0, 0, "bad hex digit"},
        {"\"\\ud800\"", 0, 0, "lone high surrogate"},
        {"\"\\udc00\"", 0, 0, "lone low surrogate"},
        {"\"\\ud800\\u0041\"", 0, 0, "high surrogate then not low"},
        {"\"\\ud800\\ud800\"", 0, 0, "two high surrogates"},
        {"\"\xc3\x28\"", 0, 0, "bad continuation byte"},
        {"\"\xc0\xaf\"", 0, 0, "overlong slash"},
        {"\"\xe0\x80\xaf\"", 0, 0, "overlong three-byte"},
        {"\"\xed\xa0\x80\"", 0, 0, "surrogate encoded in UTF-8"},
        {"\"\xf4\x90\x80\x80\"", 0, 0, "above U+10FFFF"},
        {"\"\xff\"", 0, 0, "byte 0xFF"},
        {"\"\xe2\x82\"", 0, 0, "truncated sequence"},
        {"\xef\xbb\xbf{}", 0, 0, "byte order mark"},
        {"[1,\xc3\xa9]", 0, 0, "non-ASCII outside a string"},
        {"{\"a\":1,\"a\":2}", 0, 0, "duplicate key"},
        {"{\"b\":1,\"a\":2,\"c\":3,\"a\":4}", 0, 0, "duplicate key, not adjacent"},
        {"[1]x", 0, 0, "trailing garbage"},
        {"[1] [2]", 0, 0, "two documents"},
        {"[1]\0", 4, 0, "trailing NUL byte"},
        {"{\"a\":1}/*c*/", 0, 0, "comment"},
        {"tru", 0, 0, "truncated true"},
        {"nulll", 0, 0, "null with extra letter"},
        {"True", 0, 0, "capitalised True"},
        {"[\"a\"\"b\"]", 0, 0, "strings without comma"},
    };
    size_t nvalid = 0, ninvalid = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].text);
        clvae_json_t *v = (clvae_json_t *)1;
        clvae_error_t err = {0};
        clvae_status_t s = parse_n(cases[i].text, n, &v, &err);
        if (cases[i].valid) {
            nvalid++;
            CHECK(s == CLVAE_OK && v, "%s: rejected: %s", cases[i].note, err.msg);
        } else {
            ninvalid++;
            CHECK(s == CLVAE_ERR_INVALID && !v, "%s: status %s", cases[i].note,
                  clvae_status_name(s));
            CHECK(strstr(err.msg, WHAT ": line ") != NULL, "%s: message '%s' lacks position",
                  cases[i].note, err.msg);
        }
        clvae_json_free(v);
    }
    CHECK(nvalid >= 15 && ninvalid >= 40, "table has %zu valid, %zu invalid", nvalid, ninvalid);
}

static void t_tree_and_positions(void)
{
    const char *text = "{\"name\": \"vae\", \"dims\": [2, 3], \"ok\": true, \"none\": null,\n"
                       " \"nested\": {\"x\": -1.25}}";
    clvae_json_t *v;
    clvae_error_t err = {0};
    REQUIRE(parse_n(text, strlen(text), &v, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(v->type == CLVAE_JSON_OBJECT && v->count == 5, "root type %d count %zu", v->type,
          v->count);
    const char *order[] = {"name", "dims", "ok", "none", "nested"};
    for (size_t i = 0; i < 5 && i < v->count; i++)
        CHECK(strcmp(v->items[i].key, order[i]) == 0, "key %zu is %s", i, v->items[i].key);
    const clvae_json_t *name = clvae_json_get(v, "name"), *dims = clvae_json_get(v, "dims");
    CHECK(name && name->type == CLVAE_JSON_STRING && name->len == 3 &&
              strcmp(name->str, "vae") == 0, "name");
    uint64_t d0 = 0, d1 = 0;
    CHECK(dims && dims->type == CLVAE_JSON_ARRAY && dims->count == 2 &&
              clvae_json_u64(&dims->items[0], &d0) && clvae_json_u64(&dims->items[1], &d1) &&
              d0 == 2 && d1 == 3, "dims");
    const clvae_json_t *ok = clvae_json_get(v, "ok"), *none = clvae_json_get(v, "none");
    CHECK(ok && ok->type == CLVAE_JSON_BOOL && ok->boolean == 1, "ok");
    CHECK(none && none->type == CLVAE_JSON_NULL, "none");
    const clvae_json_t *x = clvae_json_get(clvae_json_get(v, "nested"), "x");
    CHECK(x && x->type == CLVAE_JSON_NUMBER && x->number == -1.25 && !x->integer, "x");
    CHECK(clvae_json_get(v, "missing") == NULL, "missing key found");
    CHECK(clvae_json_get(dims, "0") == NULL, "get on an array");
    clvae_json_free(v);

    /* Line and column of an error. */
    const char *bad = "{\n  \"a\": 1,\n}";
    v = NULL;
    CHECK(parse_n(bad, strlen(bad), &v, &err) == CLVAE_ERR_INVALID, "trailing comma accepted");
    CHECK(strstr(err.msg, "doc.json: line 3 column 1:") != NULL, "message: %s", err.msg);
    CHECK(parse_n("[1, 012]", 8, &v, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "line 1 column 5: number has a leading zero"), "message: %s",
          err.msg);
    CHECK(parse_n("\"\\ud800x\"", 9, &v, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "column 2: high surrogate \\uD800 is not followed by a low"),
          "message: %s", err.msg);
    const char *dup = "[{\"k\":1,\n\"k\":2}]";
    CHECK(parse_n(dup, strlen(dup), &v, &err) == CLVAE_ERR_INVALID, "duplicate accepted");
    CHECK(strstr(err.msg, "line 1 column 2") && strstr(err.msg, "\"k\" twice"), "message: %s",
          err.msg);
    clvae_error_clear(&err);
}

static void t_string_decoding(void)
{
    static const struct { const char *json, *want; size_t want_len; } cases[] = {
        {"\"\\u00e9\"", "\xc3\xa9", 2},
        {"\"\\u0041\\u00DF\\u20ac\"", "A\xc3\x9f\xe2\x82\xac", 6},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
        {"\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4},
        {"\"a\\u0000b\"", "a\0b", 3},
        {"\"\\/\\\\\\\"\"", "/\\\"", 3},
        {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5},
        {"\"\xc3\x9avod\"", "\xc3\x9avod", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clvae_json_t *v = NULL;
        clvae_error_t err = {0};
        clvae_status_t s = parse_n(cases[i].json, strlen(cases[i].json), &v, &err);
        CHECK(s == CLVAE_OK && v && v->type == CLVAE_JSON_STRING &&
                  v->len == cases[i].want_len &&
                  memcmp(v->str, cases[i].want, cases[i].want_len) == 0 &&
                  v->str[v->len] == 0, "case %zu (%s): %s", i, cases[i].json, err.msg);
        clvae_json_free(v);
    }
}

/* Writes one string value and returns the text (free it). */
static char *write_string(const char *s, size_t n)
{
    clvae_jw_t w;
    clvae_jw_init(&w);
    clvae_jw_string_n(&w, s, n);
    clvae_error_t err = {0};
    if (clvae_jw_finish(&w, "out", &err) != CLVAE_OK) {
        clvae_jw_free(&w);
        return NULL;
    }
    return w.buf; /* ownership passes to the caller */
}

static void t_escape_round_trip(void)
{
    /* Every byte 0x01..0x7F, quotes, backslashes, NUL, and multi-byte UTF-8. */
    char text[256];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++) text[n++] = (char)c;
    static const char extra[] = "\"\\/\0\xc3\x9avod \xc5\xbelu\xc5\xa5ou\xc4\x8dk\xc3\xbd "
                                "\xf0\x9f\x98\x80 \xe2\x80\xa8";
    size_t extra_len = sizeof extra - 1;
    memcpy(text + n, extra, extra_len);
    n += extra_len;
    REQUIRE(clvae_utf8_valid(text, n), "test text is not UTF-8");
    char *json = write_string(text, n);
    REQUIRE(json, "writer refused valid UTF-8");
    for (const char *p = json; *p; p++)
        CHECK((unsigned char)*p >= 0x20, "raw control byte 0x%02X in the output",
              (unsigned char)*p);
    clvae_json_t *v = NULL;
    clvae_error_t err = {0};
    REQUIRE(parse_n(json, strlen(json), &v, &err) == CLVAE_OK, "%s: %s", err.msg, json);
    CHECK(v->type == CLVAE_JSON_STRING && v->len == n && memcmp(v->str, text, n) == 0,
          "decoded string differs (%zu vs %zu bytes)", v->len, n);
    clvae_json_free(v);
    free(json);

    /* The exact escapes written. */
    json = write_string("a\"b\\c/\n\t\x01\x1f\x7f\xc3\xa9", 13);
    REQUIRE(json, "writer failed");
    const char *want = "\"a\\\"b\\\\c/\\n\\t\\u0001\\u001f\x7f\xc3\xa9\"";
    CHECK(strcmp(json, want) == 0, "wrote %s, want %s", json, want);
    free(json);
    json = write_string("a\0b", 3);
    CHECK(json && strcmp(json, "\"a\\u0000b\"") == 0, "NUL written as %s", json ? json : "-");
    free(json);

    /* Invalid UTF-8 is refused by the writer. */
    static const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "a\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json = write_string(bad[i], strlen(bad[i]));
        CHECK(json == NULL, "wrote invalid UTF-8 case %zu as %s", i, json);
        free(json);
    }
}

static void t_numbers(void)
{
    static const struct {
        const char *text;
        double value;
        int is_u64;
        uint64_t u;
        int is_i64;
        int64_t i;
    } cases[] = {
        {"0", 0.0, 1, 0, 1, 0},
        {"-0", -0.0, 0, 0, 1, 0},
        {"42", 42.0, 1, 42, 1, 42},
        {"-42", -42.0, 0, 0, 1, -42},
        {"9007199254740992", 9007199254740992.0, 1, 9007199254740992ull, 1, 9007199254740992ll},
        {"-9007199254740992", -9007199254740992.0, 0, 0, 1, -9007199254740992ll},
        {"9007199254740993", 9007199254740992.0, 1, 9007199254740993ull, 1,
         9007199254740993ll},
        {"9223372036854775807", 9223372036854775807.0, 1, 9223372036854775807ull, 1, INT64_MAX},
        {"-9223372036854775808", -9223372036854775808.0, 0, 0, 1, INT64_MIN},
        {"-9223372036854775809", -9223372036854775809.0, 0, 0, 0, 0},
        {"18446744073709551615", 18446744073709551615.0, 1, UINT64_MAX, 0, 0},
        {"18446744073709551616", 18446744073709551616.0, 0, 0, 0, 0},
        {"1e3", 1000.0, 0, 0, 0, 0},
        {"1.0", 1.0, 0, 0, 0, 0},
        {"1.5", 1.5, 0, 0, 0, 0},
        {"-2.5E-3", -2.5e-3, 0, 0, 0, 0},
        {"6.02214076e23", 6.02214076e23, 0, 0, 0, 0},
        {"1E+2", 100.0, 0, 0, 0, 0},
        {"0.1", 0.1, 0, 0, 0, 0},
        {"1e-400", 0.0, 0, 0, 0, 0},
        {"123456789012345678901234567890", 123456789012345678901234567890.0, 0, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        clvae_json_t *v = NULL;
        clvae_error_t err = {0};
        if (parse_n(cases[k].text, strlen(cases[k].text), &v, &err) != CLVAE_OK) {
            CHECK(0, "%s rejected: %s", cases[k].text, err.msg);
            continue;
        }
        CHECK(v->type == CLVAE_JSON_NUMBER && v->number == cases[k].value &&
                  signbit(v->number) == signbit(cases[k].value),
              "%s read as %.17g", cases[k].text, v->number);
        uint64_t u = 7;
        int64_t i = 7;
        int is_u = clvae_json_u64(v, &u), is_i = clvae_json_i64(v, &i);
        CHECK(is_u == cases[k].is_u64 && (!is_u || u == cases[k].u), "%s: u64 %d %llu",
              cases[k].text, is_u, (unsigned long long)u);
        CHECK(is_i == cases[k].is_i64 && (!is_i || i == cases[k].i), "%s: i64 %d %lld",
              cases[k].text, is_i, (long long)i);
        clvae_json_free(v);
    }
    /* Every integer up to 2^53 in a sample reads exactly. */
    uint64_t x = 1;
    for (int b = 0; b <= 53; b++, x = x * 2 + (uint64_t)(b & 1)) {
        uint64_t val = x > (1ull << 53) ? (1ull << 53) : x;
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)val);
        clvae_json_t *v = NULL;
        clvae_error_t err = {0};
        CHECK(parse_n(text, strlen(text), &v, &err) == CLVAE_OK && v->number == (double)val &&
                  (uint64_t)v->number == val, "%s", text);
        clvae_json_free(v);
    }
    /* A number literal past the length limit is refused. */
    char longnum[CLVAE_JSON_MAX_NUMBER + 2];
    memset(longnum, '1', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = 0;
    clvae_json_t *v = NULL;
    clvae_error_t err = {0};
    CHECK(parse_n(longnum, strlen(longnum), &v, &err) == CLVAE_ERR_INVALID, "long number read");
}

static void t_float_round_trip(void)
{
    /* %.9g gives back every float exactly; %.17g every double. */
    float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 1.0f / 3.0f, 3.4028235e38f,
                       1.17549435e-38f, 1.4e-45f, 16777217.0f, 1e-10f, 123456.789f};
    size_t nspecial = sizeof special / sizeof special[0], n = nspecial + 20000;
    float *f = malloc(n * sizeof *f);
    REQUIRE(f, "out of memory");
    memcpy(f, special, sizeof special);
    uint64_t st = 0x9E3779B97F4A7C15ull;
    for (size_t i = nspecial; i < n;) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        uint32_t bits = (uint32_t)(st >> 16);
        float g;
        memcpy(&g, &bits, 4);
        if (isfinite(g)) f[i++] = g;
    }
    clvae_jw_t w;
    clvae_jw_init(&w);
    clvae_jw_begin_array(&w);
    for (size_t i = 0; i < n; i++) clvae_jw_float(&w, f[i]);
    clvae_jw_double(&w, 0.1);
    clvae_jw_double(&w, 1.0 / 3.0);
    clvae_jw_double(&w, 5e-324);
    clvae_jw_float(&w, NAN);
    clvae_jw_double(&w, -INFINITY);
    clvae_jw_end_array(&w);
    clvae_error_t err = {0};
    clvae_json_t *v = NULL;
    if (clvae_jw_finish(&w, "floats", &err) != CLVAE_OK ||
        parse_n(w.buf, w.len, &v, &err) != CLVAE_OK) {
        CHECK(0, "%s", err.msg);
        clvae_jw_free(&w);
        free(f);
        return;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float back = (float)v->items[i].number;
        if (memcmp(&back, &f[i], 4) != 0) bad++;
    }
    CHECK(bad == 0, "%zu of %zu floats did not round-trip", bad, n);
    CHECK(v->items[n].number == 0.1 && v->items[n + 1].number == 1.0 / 3.0 &&
              v->items[n + 2].number == 5e-324, "doubles did not round-trip");
    CHECK(v->items[n + 3].type == CLVAE_JSON_NULL && v->items[n + 4].type == CLVAE_JSON_NULL,
          "NaN and infinity not written as null");
    CHECK(strstr(w.buf, "[0,-0,1,-1,0.100000001,0.333333343,3.40282347e+38,") == w.buf,
          "float text: %.60s", w.buf);
    clvae_json_free(v);
    clvae_jw_free(&w);
    free(f);
}

static void t_writer_output_and_misuse(void)
{
    clvae_jw_t w;
    clvae_jw_init(&w);
    clvae_jw_begin_object(&w);
    clvae_jw_key(&w, "a");
    clvae_jw_begin_array(&w);
    clvae_jw_int(&w, 1);
    clvae_jw_int(&w, INT64_MIN);
    clvae_jw_uint(&w, UINT64_MAX);
    clvae_jw_float(&w, 2.5f);
    clvae_jw_string(&w, "x");
    clvae_jw_bool(&w, 1);
    clvae_jw_bool(&w, 0);
    clvae_jw_null(&w);
    clvae_jw_begin_array(&w);
    clvae_jw_end_array(&w);
    clvae_jw_end_array(&w);
    clvae_jw_key(&w, "b");
    clvae_jw_begin_object(&w);
    clvae_jw_end_object(&w);
    clvae_jw_key(&w, "c\n");
    clvae_jw_float(&w, 1e-7f);
    clvae_jw_end_object(&w);
    clvae_error_t err = {0};
    REQUIRE(clvae_jw_finish(&w, "out", &err) == CLVAE_OK, "%s", err.msg);
    const char *want = "{\"a\":[1,-9223372036854775808,18446744073709551615,2.5,\"x\",true,"
                       "false,null,[]],\"b\":{},\"c\\n\":1.00000001e-07}";
    CHECK(strcmp(w.buf, want) == 0 && w.len == strlen(want), "wrote %s", w.buf);
    clvae_jw_free(&w);

    /* Each misuse is reported by finish, with the output's name. */
    for (int m = 0; m < 9; m++) {
        clvae_jw_init(&w);
        switch (m) {
        case 0: /* value in an object without a key */
            clvae_jw_begin_object(&w);
            clvae_jw_int(&w, 1);
            clvae_jw_end_object(&w);
            break;
        case 1: /* key in an array */
            clvae_jw_begin_array(&w);
            clvae_jw_key(&w, "k");
            clvae_jw_end_array(&w);
            break;
        case 2: /* unclosed */
            clvae_jw_begin_array(&w);
            break;
        case 3: /* two top-level values */
            clvae_jw_int(&w, 1);
            clvae_jw_int(&w, 2);
            break;
        case 4: /* mismatched close */
            clvae_jw_begin_object(&w);
            clvae_jw_end_array(&w);
            break;
        case 5: /* key without value */
            clvae_jw_begin_object(&w);
            clvae_jw_key(&w, "k");
            clvae_jw_end_object(&w);
            break;
        case 6: /* nothing written */
            break;
        case 7: /* invalid UTF-8 key */
            clvae_jw_begin_object(&w);
            clvae_jw_key(&w, "\xff");
            clvae_jw_int(&w, 1);
            clvae_jw_end_object(&w);
            break;
        case 8: /* deeper than the reader accepts */
            for (int d = 0; d < CLVAE_JSON_MAX_DEPTH + 1; d++) clvae_jw_begin_array(&w);
            for (int d = 0; d < CLVAE_JSON_MAX_DEPTH + 1; d++) clvae_jw_end_array(&w);
            break;
        }
        clvae_status_t s = clvae_jw_finish(&w, "out.json", &err);
        CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "out.json: cannot write JSON"),
              "misuse %d: %s %s", m, clvae_status_name(s), err.msg);
        clvae_jw_free(&w);
    }
}

/* n nested arrays ("[[[...]]]"), optionally inside an object member. */
static char *nested(int n, int in_object)
{
    char *s = malloc((size_t)n * 2 + 16), *p = s;
    if (!s) return NULL;
    if (in_object) p += sprintf(p, "{\"k\":");
    for (int i = 0; i < n; i++) *p++ = '[';
    for (int i = 0; i < n; i++) *p++ = ']';
    if (in_object) *p++ = '}';
    *p = 0;
    return s;
}

static void t_depth_limit(void)
{
    const struct { int n, in_object, ok; } cases[] = {
        {CLVAE_JSON_MAX_DEPTH, 0, 1},
        {CLVAE_JSON_MAX_DEPTH + 1, 0, 0},
        {CLVAE_JSON_MAX_DEPTH - 1, 1, 1},
        {CLVAE_JSON_MAX_DEPTH, 1, 0},
        {100, 0, 0},
        {100000, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = nested(cases[i].n, cases[i].in_object);
        REQUIRE(text, "out of memory");
        clvae_json_t *v = NULL;
        clvae_error_t err = {0};
        clvae_status_t s = parse_n(text, strlen(text), &v, &err);
        if (cases[i].ok)
            CHECK(s == CLVAE_OK, "depth %d rejected: %s", cases[i].n, err.msg);
        else
            CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "nested deeper than 64"),
                  "depth %d: %s %s", cases[i].n, clvae_status_name(s), err.msg);
        clvae_json_free(v);
        free(text);
    }
}

static void t_size_limits(void)
{
    /* Over the byte limit: refused before any byte is looked at. */
    size_t big = CLVAE_JSON_MAX_BYTES + 1;
    char *text = calloc(big, 1);
    REQUIRE(text, "out of memory");
    clvae_json_t *v = NULL;
    clvae_error_t err = {0};
    CHECK(parse_n(text, big, &v, &err) == CLVAE_ERR_INVALID && strstr(err.msg, "limit"),
          "%zu bytes: %s", big, err.msg);
    free(text);

    /* The value count: an array of CLVAE_JSON_MAX_VALUES - 1 zeros is fine, one more not. */
    size_t nzeros = CLVAE_JSON_MAX_VALUES - 1;
    text = malloc(nzeros * 2 + 8);
    REQUIRE(text, "out of memory");
    char *p = text;
    *p++ = '[';
    for (size_t i = 0; i < nzeros; i++) {
        *p++ = '0';
        *p++ = ',';
    }
    p[-1] = ']';
    size_t len = (size_t)(p - text);
    CHECK(parse_n(text, len, &v, &err) == CLVAE_OK && v->count == nzeros, "%s", err.msg);
    clvae_json_free(v);
    v = NULL;
    memcpy(p - 1, ",0]", 3);
    CHECK(parse_n(text, len + 2, &v, &err) == CLVAE_ERR_INVALID && strstr(err.msg, "values"),
          "%s", err.msg);
    free(text);
}

static void t_utf8_and_excerpt(void)
{
    CHECK(clvae_utf8_valid("", 0) && clvae_utf8_valid("\xc3\x9avod", 5), "valid text refused");
    CHECK(!clvae_utf8_valid("\xc3", 1) && !clvae_utf8_valid("\xf8\x88\x80\x80\x80", 5),
          "invalid text accepted");
    char buf[16];
    clvae_json_excerpt(buf, sizeof buf, "a\nb\xff", 4);
    CHECK(strcmp(buf, "a?b?") == 0, "excerpt %s", buf);
    clvae_json_excerpt(buf, sizeof buf, "0123456789abcdefghij", 20);
    CHECK(strcmp(buf, "0123456789ab...") == 0, "cut excerpt %s", buf);
    clvae_json_excerpt(buf, 8, "ab\xc3\x9a\xc3\x9a\xc3\x9a", 8);
    CHECK(strcmp(buf, "ab\xc3\x9a...") == 0, "excerpt cut inside UTF-8: %s", buf);
    clvae_json_excerpt(buf, 8, "abcdefg", 7);
    CHECK(strcmp(buf, "abcdefg") == 0, "exact fit %s", buf);
}

int main(void)
{
    RUN(t_valid_and_invalid_table);
    RUN(t_tree_and_positions);
    RUN(t_string_decoding);
    RUN(t_escape_round_trip);
    RUN(t_numbers);
    RUN(t_float_round_trip);
    RUN(t_writer_output_and_misuse);
    RUN(t_depth_limit);
    RUN(t_size_limits);
    RUN(t_utf8_and_excerpt);
    return TEST_EXIT();
}
