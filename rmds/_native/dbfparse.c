/*
 * rmds._dbfparse: column kernels for the DBF reader.
 *
 * Each function walks one field of a batch of fixed-width records (stride = record
 * length) and writes Arrow-ready buffers. Values the kernels do not take (unusual numeric
 * spellings) are flagged so that Python can parse them with dbfread's semantics.
 * The functions are called through ctypes; the module init only makes this a valid
 * extension module for the build tools.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Character field: strip trailing spaces and NULs, transcode through `table`
 * (256 entries of 4 bytes: count, then up to 3 UTF-8 bytes). Returns bytes written. */
static inline int64_t text_rows(const uint8_t *rec, int64_t start, int64_t end,
                                int64_t stride, int64_t off, int64_t len,
                                const uint8_t *table, int ascii_identity, int32_t *offsets,
                                uint8_t *out, int64_t pos)
{
    const uint64_t HIGH = 0x8080808080808080ULL;
    for (int64_t i = start; i < end; i++) {
        const uint8_t *p = rec + i * stride + off;
        /* copy the whole width in 8-byte words (input and output are padded by 16 bytes)
         * and note any byte with the high bit set */
        uint64_t high = 0;
        uint8_t *o = out + pos;
        for (int64_t j = 0; j < len; j += 8) {
            uint64_t w;
            memcpy(&w, p + j, 8);
            memcpy(o + j, &w, 8);
            if (j + 8 > len) w &= (~0ULL) >> (8 * (j + 8 - len));
            high |= w;
        }
        int64_t l = len;
        while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == 0)) l--;
        if ((high & HIGH) || !ascii_identity) {
            for (int64_t j = 0; j < l; j++) {
                const uint8_t *t = table + 4 * p[j];
                for (int k = 0; k < t[0]; k++) out[pos++] = t[1 + k];
            }
        } else {
            pos += l;
        }
        offsets[i + 1] = (int32_t)pos;
    }
    return pos;
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                               1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
                               1e20, 1e21, 1e22};

/* Numeric field. status: 0 null (blank), 1 parsed, 2 needs the Python fallback.
 * as_float: write doubles to fout, else int64 to iout (a decimal point → status 2). */
static inline int is_blank(uint8_t c) { return c == ' ' || c == 0 || c == '*'; }

static inline void numeric_rows(const uint8_t *rec, int64_t start, int64_t n,
                                int64_t stride, int64_t off, int64_t len, int as_float,
                                int64_t *iout, double *fout, uint8_t *status)
{
    /* Accepted: blanks, an optional sign, digits with at most one point, blanks; anything
     * else (interior blanks, exponents, commas ...) goes to the Python fallback. */
    for (int64_t i = start; i < n; i++) {
        const uint8_t *p = rec + i * stride + off;
        int64_t a = 0, b = len;
        /* right-aligned numbers start with runs of spaces: skip them 8 at a time */
        while (a + 8 <= b) {
            uint64_t w;
            memcpy(&w, p + a, 8);
            if (w != 0x2020202020202020ULL) break;
            a += 8;
        }
        while (a < b && is_blank(p[a])) a++;
        while (b > a && is_blank(p[b - 1])) b--;
        if (a == b) { status[i] = 0; if (as_float) fout[i] = 0; else iout[i] = 0; continue; }
        int negative = 0;
        if (p[a] == '-' || p[a] == '+') { negative = p[a] == '-'; a++; }
        int64_t mantissa = 0;
        int digits = 0, fraction = 0, point = 0, ok = a < b;
        for (int64_t j = a; j < b; j++) {
            uint8_t c = p[j];
            if (c >= '0' && c <= '9') {
                mantissa = mantissa * 10 + (c - '0');
                digits++;
                fraction += point;
            } else if (c == '.' && !point) {
                point = 1;
            } else { ok = 0; break; }
        }
        if (!ok || digits == 0 || digits > 15 || (point && !as_float)) {
            status[i] = 2;
            if (as_float) fout[i] = 0; else iout[i] = 0;
            continue;
        }
        status[i] = 1;
        if (as_float) {
            double v = (double)mantissa / POW10[fraction];
            fout[i] = negative ? -v : v;
        } else {
            iout[i] = negative ? -mantissa : mantissa;
        }
    }
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Date field YYYYMMDD. status: 0 null (blank or zeros), 1 parsed, 2 invalid. */
static inline void date_rows(const uint8_t *rec, int64_t start, int64_t n, int64_t stride,
                             int64_t off, int32_t *out, uint8_t *status)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int64_t i = start; i < n; i++) {
        const uint8_t *p = rec + i * stride + off;
        int blank = 1, digits = 1;
        int64_t v[8];
        for (int j = 0; j < 8; j++) {
            uint8_t c = p[j];
            if (!(c == ' ' || c == '0' || c == 0)) blank = 0;
            if (c < '0' || c > '9') digits = 0;
            v[j] = c - '0';
        }
        out[i] = 0;
        if (blank) { status[i] = 0; continue; }
        if (!digits) { status[i] = 2; continue; }
        int64_t y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
        int64_t m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap)) {
            status[i] = 2;
            continue;
        }
        out[i] = (int32_t)days_from_civil(y, m, d);
        status[i] = 1;
    }
}

/*
 * A whole batch, all fields, in blocks of rows that stay in cache: walking one field down
 * a batch of wide records would reload every record once per field.
 *
 * kinds[f]: 0 text, 1 integer, 2 float, 3 date, -1 skip. For field f, out_a[f] is the
 * text offsets (int32, n+1) / int64 values / double values / int32 days; out_b[f] the
 * text bytes or the status bytes (0 null, 1 parsed, 2 fallback or invalid).
 * text_sizes[f] receives the number of text bytes written.
 */
void rmds_parse_batch(const uint8_t *rec, int64_t n, int64_t stride, int64_t nfields,
                      const int64_t *kinds, const int64_t *offs, const int64_t *lens,
                      void **out_a, void **out_b, const uint8_t *table, int ascii_identity,
                      int64_t *text_sizes)
{
    const int64_t block = stride > 0 ? (65536 / stride) + 1 : 1024;
    for (int64_t f = 0; f < nfields; f++) {
        text_sizes[f] = 0;
        if (kinds[f] == 0) ((int32_t *)out_a[f])[0] = 0;
    }
    for (int64_t start = 0; start < n; start += block) {
        int64_t end = start + block < n ? start + block : n;
        for (int64_t f = 0; f < nfields; f++) {
            switch (kinds[f]) {
            case 0:
                text_sizes[f] = text_rows(rec, start, end, stride, offs[f], lens[f], table,
                                          ascii_identity, (int32_t *)out_a[f],
                                          (uint8_t *)out_b[f], text_sizes[f]);
                break;
            case 1:
                numeric_rows(rec, start, end, stride, offs[f], lens[f], 0,
                             (int64_t *)out_a[f], NULL, (uint8_t *)out_b[f]);
                break;
            case 2:
                numeric_rows(rec, start, end, stride, offs[f], lens[f], 1, NULL,
                             (double *)out_a[f], (uint8_t *)out_b[f]);
                break;
            case 3:
                date_rows(rec, start, end, stride, offs[f], (int32_t *)out_a[f],
                          (uint8_t *)out_b[f]);
                break;
            default:
                break;
            }
        }
    }
}

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_dbfparse",
    "DBF column kernels for rmds (called through ctypes).", -1, NULL,
};

PyMODINIT_FUNC PyInit__dbfparse(void) { return PyModule_Create(&moduledef); }
