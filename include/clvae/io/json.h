/* A small strict JSON reader (into a tree) and writer (escaped, round-trippable numbers). */
#ifndef CLVAE_JSON_H
#define CLVAE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/io/error.h"

/* Reader limits: nesting of arrays/objects, document size, values in one document, and
 * characters in one number literal. A document past any of them is rejected. */
#define CLVAE_JSON_MAX_DEPTH 64
#define CLVAE_JSON_MAX_BYTES ((size_t)100 << 20)
#define CLVAE_JSON_MAX_VALUES ((size_t)1 << 20)
#define CLVAE_JSON_MAX_NUMBER 512

/* The kind of a JSON value. */
typedef enum clvae_json_type {
    CLVAE_JSON_NULL = 0,
    CLVAE_JSON_BOOL,
    CLVAE_JSON_NUMBER,
    CLVAE_JSON_STRING,
    CLVAE_JSON_ARRAY,
    CLVAE_JSON_OBJECT
} clvae_json_type_t;

/* One parsed value; an array or object owns its items. */
typedef struct clvae_json {
    clvae_json_type_t type;
    int boolean;              /* BOOL: 0 or 1 */
    int integer;              /* NUMBER: the literal has no fraction or exponent, |v| < 2^64 */
    int negative;             /* NUMBER: the literal starts with '-' */
    uint64_t magnitude;       /* NUMBER with integer: the exact absolute value */
    double number;            /* NUMBER: the value, rounded to the nearest double */
    char *str;                /* STRING: decoded UTF-8 with a NUL after len bytes */
    size_t len;               /* STRING: bytes in str (a \u0000 escape puts a NUL inside) */
    struct clvae_json *items; /* ARRAY, OBJECT: the values, in document order */
    size_t count;             /* ARRAY, OBJECT: number of items */
    char *key;                /* item of an OBJECT: its key (decoded, NUL after key_len) */
    size_t key_len;           /* item of an OBJECT: bytes in key */
} clvae_json_t;

/* Parses len bytes of text as one JSON document (RFC 8259, strictly: no comments, trailing
 * commas, leading zeros, raw control characters, invalid UTF-8, lone surrogates, duplicate
 * object keys, or anything but whitespace after the value; numbers must fit a double).
 * what names the text in messages ("cfg.json: line 3 column 7: ..."). Bad text is
 * CLVAE_ERR_INVALID; *out is NULL on failure. */
clvae_status_t clvae_json_parse(const char *text, size_t len, const char *what, clvae_json_t **out,
                                clvae_error_t *err);

/* Frees a tree returned by clvae_json_parse (NULL is fine). */
void clvae_json_free(clvae_json_t *v);

/* The member of object obj whose key is key, or NULL (also when obj is not an object). */
const clvae_json_t *clvae_json_get(const clvae_json_t *obj, const char *key);

/* 1 and *out when v is a number written as a non-negative integer (no '-', '.', 'e'). */
int clvae_json_u64(const clvae_json_t *v, uint64_t *out);

/* 1 and *out when v is a number written as an integer within int64_t. */
int clvae_json_i64(const clvae_json_t *v, int64_t *out);

/* 1 when the n bytes at s are valid UTF-8 (shortest forms, no surrogates, <= U+10FFFF). */
int clvae_utf8_valid(const char *s, size_t n);

/* Copies n bytes of untrusted text into dst[cap] (cap >= 4) for a message: control bytes
 * and bytes that are not UTF-8 become '?', and text that does not fit ends in "...". */
void clvae_json_excerpt(char *dst, size_t cap, const char *s, size_t n);

/* A JSON writer into a growing buffer. Calls never fail on their own: the first misuse or
 * failure is remembered and reported by clvae_jw_finish. Members of an object are written
 * as clvae_jw_key then one value; commas are put in by the writer. */
typedef struct clvae_jw {
    char *buf;                                 /* the text so far, NUL-terminated */
    size_t len;                                /* bytes in buf */
    size_t cap;                                /* allocated bytes */
    int depth;                                 /* open arrays and objects */
    char open[CLVAE_JSON_MAX_DEPTH];           /* '{' or '[' per open level */
    char has_items[CLVAE_JSON_MAX_DEPTH];      /* the level already has an item */
    int after_key;                             /* a key was written; its value comes next */
    int done;                                  /* a whole top-level value was written */
    clvae_status_t status;                     /* first failure, or CLVAE_OK */
    const char *why;                           /* what the first failure was */
} clvae_jw_t;

/* Starts an empty document. */
void clvae_jw_init(clvae_jw_t *w);

/* Frees the buffer (the writer may be initialised again). */
void clvae_jw_free(clvae_jw_t *w);

/* Opens and closes an object or array. */
void clvae_jw_begin_object(clvae_jw_t *w);
void clvae_jw_end_object(clvae_jw_t *w);
void clvae_jw_begin_array(clvae_jw_t *w);
void clvae_jw_end_array(clvae_jw_t *w);

/* Writes a member's key (NUL-terminated UTF-8) inside an object. */
void clvae_jw_key(clvae_jw_t *w, const char *key);

/* Writes a string value: NUL-terminated, or n bytes (which may hold NULs); must be UTF-8. */
void clvae_jw_string(clvae_jw_t *w, const char *s);
void clvae_jw_string_n(clvae_jw_t *w, const char *s, size_t n);

/* Writes a float with "%.9g" (enough to read back the same float); NaN and infinities,
 * which JSON cannot hold, are written as null. */
void clvae_jw_float(clvae_jw_t *w, float x);

/* Writes a double with "%.17g" (enough to read back the same double); NaN/inf as null. */
void clvae_jw_double(clvae_jw_t *w, double x);

/* Writes an integer exactly. */
void clvae_jw_int(clvae_jw_t *w, int64_t x);
void clvae_jw_uint(clvae_jw_t *w, uint64_t x);

/* Writes true/false and null. */
void clvae_jw_bool(clvae_jw_t *w, int b);
void clvae_jw_null(clvae_jw_t *w);

/* Checks that one whole value was written without failure; what names the output in the
 * message (CLVAE_ERR_INVALID for misuse or bad UTF-8, CLVAE_ERR_NOMEM). The text is then
 * w->buf, w->len bytes. */
clvae_status_t clvae_jw_finish(clvae_jw_t *w, const char *what, clvae_error_t *err);

#endif
