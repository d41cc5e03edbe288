/*
 * PKWare DCL "implode" decompression for DATASUS .dbc files.
 *
 * Written for rmds after the format as documented by Mark Adler's blast.c (zlib
 * contrib): a byte saying whether literals are Huffman coded, a byte with the dictionary
 * size (4, 5 or 6 → 1, 2 or 4 KiB), then LSB-first codes: a 0 bit and a literal, or a 1
 * bit, a length code and a distance code; length 519 ends the stream. Huffman codes are
 * stored bit-inverted.
 *
 * Unlike blast.c, which reads one bit at a time, this decoder keeps 64 bits in hand and
 * decodes each Huffman code with one table lookup (the tables are built by running the
 * canonical bit-by-bit decoder over every possible bit pattern, so both agree by
 * construction). The input is in memory; the output goes to memory (the whole DBF) or,
 * through a window-sized buffer, to a file. No global state: calls may run in parallel
 * threads (ctypes releases the GIL).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXBITS 13
#define WINDOW 4096
#define FILEBUF (1 << 22)

/* error codes shared with rmds/sources/datasus/dbc.py */
#define E_LITMODE -1
#define E_DICT -2
#define E_DIST -3
#define E_TRUNCATED -10
#define E_CODE -11
#define E_WRITE -20
#define E_FULL -21
#define E_OPEN -30
#define E_HEADER -31
#define E_MEMORY -32

typedef struct {
    short count[MAXBITS + 1];
    short symbol[256];
} huffman;

/* one lookup table: entry = symbol << 4 | code length (0: invalid pattern) */
typedef struct {
    int bits;
    uint16_t *entry;
} table;

static void construct(huffman *h, const uint8_t *rep, int n)
{
    uint8_t length[256];
    short offs[MAXBITS + 1];
    int symbol = 0;
    do {
        int len = *rep++;
        int left = (len >> 4) + 1;
        len &= 15;
        do { length[symbol++] = (uint8_t)len; } while (--left);
    } while (--n);
    n = symbol;
    for (int len = 0; len <= MAXBITS; len++) h->count[len] = 0;
    for (symbol = 0; symbol < n; symbol++) h->count[length[symbol]]++;
    offs[1] = 0;
    for (int len = 1; len < MAXBITS; len++) offs[len + 1] = offs[len] + h->count[len];
    for (symbol = 0; symbol < n; symbol++)
        if (length[symbol] != 0) h->symbol[offs[length[symbol]]++] = (short)symbol;
}

/* the canonical decoder, one bit at a time, over the bits of `pattern` (LSB first) */
static int slow_decode(const huffman *h, uint32_t pattern, int *used)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code |= (int)((pattern >> (len - 1)) & 1) ^ 1;
        int count = h->count[len];
        if (code < first + count) {
            *used = len;
            return h->symbol[index + (code - first)];
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    *used = 0;
    return 0;
}

static void build_table(table *t, const huffman *h)
{
    int longest = 0;
    for (int len = 1; len <= MAXBITS; len++)
        if (h->count[len]) longest = len;
    t->bits = longest;
    for (uint32_t pattern = 0; pattern < (1u << longest); pattern++) {
        int used;
        int symbol = slow_decode(h, pattern, &used);
        t->entry[pattern] = (uint16_t)(used ? (symbol << 4) | used : 0);
    }
}

static const uint8_t litlen[] = {
    11, 124, 8, 7, 28, 7, 188, 13, 76, 4, 10, 8, 12, 10, 12, 10, 8, 23, 8,
    9, 7, 6, 7, 8, 7, 6, 55, 8, 23, 24, 12, 11, 7, 9, 11, 12, 6, 7, 22, 5,
    7, 24, 6, 11, 9, 6, 7, 22, 7, 11, 38, 7, 9, 8, 25, 11, 8, 11, 9, 12,
    8, 12, 5, 38, 5, 38, 5, 11, 7, 5, 6, 21, 6, 10, 53, 8, 7, 24, 10, 27,
    44, 253, 253, 253, 252, 252, 252, 13, 12, 45, 12, 45, 12, 61, 12, 45,
    44, 173};
static const uint8_t lenlen[] = {2, 35, 36, 53, 38, 23};
static const uint8_t distlen[] = {2, 20, 53, 230, 247, 151, 248};
static const short base[16] = {3, 2, 4, 5, 6, 7, 8, 9, 10, 12, 16, 24, 40, 72, 136, 264};
static const char extra[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};

static uint16_t lit_entries[1 << MAXBITS], len_entries[1 << MAXBITS],
    dist_entries[1 << MAXBITS];
static table littab = {0, lit_entries}, lentab = {0, len_entries},
             disttab = {0, dist_entries};
static volatile int tables_ready = 0;

/* Build the lookup tables once; called from the module's init (under the GIL, before any
 * thread can decode) and again, harmlessly, by the first decoding call. */
void rmds_explode_init(void)
{
    if (tables_ready) return;
    huffman h;
    construct(&h, litlen, sizeof(litlen));
    build_table(&littab, &h);
    construct(&h, lenlen, sizeof(lenlen));
    build_table(&lentab, &h);
    construct(&h, distlen, sizeof(distlen));
    build_table(&disttab, &h);
    tables_ready = 1;
}

typedef struct {
    const uint8_t *in;
    size_t inlen, inpos;
    uint64_t buf;
    int cnt;
    size_t phantom;   /* zero bytes supplied past the end of the input */
} bits;

static inline void refill(bits *b)
{
    if (b->inpos + 8 <= b->inlen) {
        uint64_t word;
        memcpy(&word, b->in + b->inpos, 8);   /* little-endian hosts (x86-64, arm64) */
        b->buf |= word << b->cnt;
        b->inpos += (size_t)(63 - b->cnt) >> 3;
        b->cnt |= 56;
        return;
    }
    while (b->cnt <= 56) {
        uint64_t byte = 0;
        if (b->inpos < b->inlen) byte = b->in[b->inpos++];
        else b->phantom++;
        b->buf |= byte << b->cnt;
        b->cnt += 8;
    }
}

static inline uint32_t take(bits *b, int n)
{
    uint32_t value = (uint32_t)(b->buf & ((1ull << n) - 1));
    b->buf >>= n;
    b->cnt -= n;
    return value;
}

/* bits consumed past the real end of the input: the stream is truncated */
static inline int overrun(const bits *b) { return b->phantom && (size_t)b->cnt < b->phantom * 8; }

/* Decompress `in` into `out` (capacity `cap`). With `sink` NULL, `out` holds the whole
 * result (E_FULL if it does not fit); otherwise `out` is a work buffer flushed to `sink`,
 * keeping the last WINDOW bytes as history. Returns the bytes produced or an error. */
static int64_t explode(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
                       FILE *sink)
{
    rmds_explode_init();
    bits b = {in, inlen, 0, 0, 0, 0};
    refill(&b);
    uint32_t coded = take(&b, 8);
    uint32_t dict = take(&b, 8);
    if (overrun(&b)) return E_TRUNCATED;
    if (coded > 1) return E_LITMODE;
    if (dict < 4 || dict > 6) return E_DICT;
    size_t pos = 0;        /* bytes in `out` */
    uint64_t flushed = 0;  /* bytes already written to the sink */
    const uint32_t litmask = (1u << littab.bits) - 1, lenmask = (1u << lentab.bits) - 1,
                   distmask = (1u << disttab.bits) - 1;
    for (;;) {
        if (sink && pos + 520 + 16 > cap) {
            size_t write = pos - WINDOW;
            if (fwrite(out, 1, write, sink) != write) return E_WRITE;
            memmove(out, out + write, WINDOW);
            pos = WINDOW;
            flushed += write;
        }
        refill(&b);
        if (b.phantom && overrun(&b)) return E_TRUNCATED;
        if (b.buf & 1) {
            take(&b, 1);
            uint16_t e = lentab.entry[b.buf & lenmask];
            if (!(e & 15)) return E_CODE;
            take(&b, e & 15);
            int symbol = e >> 4;
            uint32_t len = (uint32_t)base[symbol] + take(&b, extra[symbol]);
            if (len == 519) {
                if (b.phantom && overrun(&b)) return E_TRUNCATED;
                break;
            }
            refill(&b);
            e = disttab.entry[b.buf & distmask];
            if (!(e & 15)) return E_CODE;
            take(&b, e & 15);
            uint32_t shift = len == 2 ? 2 : dict;
            uint64_t dist = ((uint64_t)(e >> 4) << shift) + take(&b, (int)shift) + 1;
            if (b.phantom && overrun(&b)) return E_TRUNCATED;
            if (dist > flushed + pos) return E_DIST;
            if (!sink && pos + len > cap) return E_FULL;
            uint8_t *to = out + pos;
            const uint8_t *from = to - dist;
            if (dist >= 8 && (sink || pos + len + 8 <= cap)) {
                for (uint32_t k = 0; k < len; k += 8) memcpy(to + k, from + k, 8);
            } else {
                for (uint32_t k = 0; k < len; k++) to[k] = from[k];
            }
            pos += len;
        } else if (pos >= cap) {
            return E_FULL;   /* a literal with no room left (memory mode only) */
        } else if (coded) {
            take(&b, 1);
            uint16_t e = littab.entry[b.buf & litmask];
            if (!(e & 15)) return E_CODE;
            take(&b, e & 15);
            out[pos++] = (uint8_t)(e >> 4);
        } else {
            /* uncoded literals: a 0 bit and 8 bits; take up to six from the 57+ in hand */
            int n = 0;
            while (n < 6 && !(b.buf & 1) && pos < cap) {
                out[pos++] = (uint8_t)(b.buf >> 1);
                b.buf >>= 9;
                b.cnt -= 9;
                n++;
            }
        }
    }
    if (sink) {
        if (fwrite(out, 1, pos, sink) != pos) return E_WRITE;
        return (int64_t)(flushed + pos);
    }
    return (int64_t)pos;
}

/* Decompress an implode stream held in memory into `out` (capacity `cap`). Returns the
 * bytes produced, or a negative error (E_FULL: more output than `cap`). */
int64_t rmds_explode(const uint8_t *in, int64_t inlen, uint8_t *out, int64_t cap)
{
    if (inlen < 0 || cap < 0) return E_MEMORY;
    return explode(in, (size_t)inlen, out, (size_t)cap, NULL);
}

/* Decompress a .dbc into a .dbf on disk (for files too large to hold decompressed).
 * Returns 0 or a negative error. */
int rmds_dbc_to_dbf(const char *source, const char *target)
{
    FILE *in = fopen(source, "rb");
    if (!in) return E_OPEN;
    int rc = 0;
    uint8_t *data = NULL, *work = NULL;
    FILE *out = NULL;
    if (fseek(in, 0, SEEK_END) != 0) { rc = E_OPEN; goto done; }
    long size = ftell(in);
    if (size < 14) { rc = E_HEADER; goto done; }
    rewind(in);
    data = malloc((size_t)size);
    work = malloc(FILEBUF);
    if (!data || !work) { rc = E_MEMORY; goto done; }
    if (fread(data, 1, (size_t)size, in) != (size_t)size) { rc = E_OPEN; goto done; }
    size_t header_length = (size_t)data[8] | ((size_t)data[9] << 8);
    if (header_length < 32 || header_length + 4 > (size_t)size) { rc = E_HEADER; goto done; }
    out = fopen(target, "wb");
    if (!out) { rc = E_OPEN; goto done; }
    if (fwrite(data, 1, header_length, out) != header_length) { rc = E_WRITE; goto done; }
    int64_t produced = explode(data + header_length + 4, (size_t)size - header_length - 4,
                               work, FILEBUF, out);
    if (produced < 0) rc = (int)produced;
done:
    if (out && fclose(out) != 0 && rc == 0) rc = E_WRITE;
    fclose(in);
    free(data);
    free(work);
    return rc;
}
