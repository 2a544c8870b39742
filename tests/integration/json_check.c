/* json_check FILE: exit 0 if FILE holds exactly one well-formed JSON value (RFC 8259 grammar:
 * objects, arrays, strings with escapes, numbers, true/false/null), else 1 with the offset of
 * the first error. The tests validate apir-info --json with it: python3 or jq are not
 * guaranteed on a fresh machine. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_in {
    const char *p, *start, *end;
    int depth;
};

static bool json_value(struct json_in *in);

static void json_ws(struct json_in *in)
{
    while (in->p < in->end && strchr(" \t\r\n", *in->p))
        in->p++;
}

static bool json_lit(struct json_in *in, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
        return false;
    in->p += n;
    return true;
}

static bool json_string(struct json_in *in)
{
    if (in->p >= in->end || *in->p++ != '"')
        return false;
    while (in->p < in->end && *in->p != '"') {
        unsigned char c = (unsigned char)*in->p++;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (in->p >= in->end)
            return false;
        c = (unsigned char)*in->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++)
                if (in->p >= in->end || !isxdigit((unsigned char)*in->p++))
                    return false;
        } else if (!strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
    return in->p++ < in->end;
}

static bool json_digits(struct json_in *in)
{
    const char *s = in->p;
    while (in->p < in->end && isdigit((unsigned char)*in->p))
        in->p++;
    return in->p > s;
}

static bool json_number(struct json_in *in)
{
    if (in->p < in->end && *in->p == '-')
        in->p++;
    if (in->p < in->end && *in->p == '0')
        in->p++;
    else if (!json_digits(in))
        return false;
    if (in->p < in->end && *in->p == '.' && (in->p++, !json_digits(in)))
        return false;
    if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
        in->p++;
        if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
            in->p++;
        return json_digits(in);
    }
    return true;
}

/* Members of an object (with keys) or elements of an array, after the opening bracket. */
static bool json_items(struct json_in *in, char close, bool keys)
{
    json_ws(in);
    if (in->p < in->end && *in->p == close)
        return in->p++, true;
    for (;;) {
        json_ws(in);
        if (keys) {
            if (!json_string(in))
                return false;
            json_ws(in);
            if (in->p >= in->end || *in->p++ != ':')
                return false;
        }
        if (!json_value(in))
            return false;
        json_ws(in);
        if (in->p >= in->end)
            return false;
        char c = *in->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
    }
}

static bool json_value(struct json_in *in)
{
    json_ws(in);
    if (in->p >= in->end || ++in->depth > 64)
        return false;
    bool ok;
    char c = *in->p;
    if (c == '{' || c == '[')
        in->p++, ok = json_items(in, c == '{' ? '}' : ']', c == '{');
    else if (c == '"')
        ok = json_string(in);
    else if (c == '-' || isdigit((unsigned char)c))
        ok = json_number(in);
    else
        ok = json_lit(in, "true") || json_lit(in, "false") || json_lit(in, "null");
    in->depth--;
    return ok;
}

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    if (!f) {
        fprintf(stderr, "usage: json_check FILE\n");
        return 2;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct json_in in = {buf, buf, buf + n, 0};
    bool ok = json_value(&in);
    json_ws(&in);
    if (!ok || in.p != in.end) {
        fprintf(stderr, "json_check: %s: not valid JSON at byte %ld\n", argv[1],
                (long)(in.p - in.start));
        return 1;
    }
    return 0;
}
