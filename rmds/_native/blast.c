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

#define INBUF (1 << 20)

typedef struct {
    const uint8_t *in;
    size_t inlen, inpos;
    uint64_t buf;
    int cnt;
    size_t phantom;   /* zero bytes supplied past the end of the input */
    FILE *src;        /* file mode: `in` is `window`, refilled from `src` */
    uint8_t *window;
    int src_eof;
} bits;

static void refill_slow(bits *b);

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
    refill_slow(b);
}

static void refill_slow(bits *b)
{
    if (b->src && !b->src_eof) {
        size_t rest = b->inlen - b->inpos;
        memmove(b->window, b->window + b->inpos, rest);
        size_t got = fread(b->window + rest, 1, INBUF - rest, b->src);
        if (got == 0) b->src_eof = 1;
        b->in = b->window;
        b->inpos = 0;
        b->inlen = rest + got;
        if (b->inlen >= 8) {
            refill(b);
            return;
        }
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
static int64_t explode(const uint8_t *in, size_t inlen, FILE *src, uint8_t *window,
                       uint8_t *out, size_t cap, FILE *sink)
{
    rmds_explode_init();
    bits b = {in, inlen, 0, 0, 0, 0, src, window, 0};
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
            if (sink || pos + len + 16 <= cap) {
                /* 8 bytes at a time, over-copying into the slack past `pos + len`. A copy
                 * closer than 8 bytes repeats a pattern of period `dist`: its first bytes
                 * are copied one by one up to a multiple of `dist` of at least 8, which
                 * has the same period, and the rest 8 at a time from that distance. */
                uint32_t k = 0;
                if (dist < 8) {
                    uint32_t step = (uint32_t)dist * (8 / (uint32_t)dist + (8 % dist != 0));
                    uint32_t head = step < len ? step : len;
                    for (; k < head; k++) to[k] = from[k];
                    from = to - step;
                    for (; k < len; k += 8) memcpy(to + k, from + k, 8);
                } else {
                    for (; k < len; k += 8) memcpy(to + k, from + k, 8);
                }
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
    return explode(in, (size_t)inlen, NULL, NULL, out, (size_t)cap, NULL);
}

/* Decompress a .dbc into a .dbf on disk (for files too large to hold decompressed), in
 * bounded memory: the input is read 1 MiB at a time. Returns 0 or a negative error. */
int rmds_dbc_to_dbf(const char *source, const char *target)
{
    FILE *in = fopen(source, "rb");
    if (!in) return E_OPEN;
    int rc = 0;
    uint8_t *window = malloc(INBUF), *work = malloc(FILEBUF), *header = NULL;
    FILE *out = NULL;
    uint8_t head[10];
    if (!window || !work) { rc = E_MEMORY; goto done; }
    if (fread(head, 1, 10, in) != 10) { rc = E_HEADER; goto done; }
    size_t header_length = (size_t)head[8] | ((size_t)head[9] << 8);
    if (header_length < 32) { rc = E_HEADER; goto done; }
    header = malloc(header_length + 4);
    if (!header) { rc = E_MEMORY; goto done; }
    memcpy(header, head, 10);
    if (fread(header + 10, 1, header_length - 6, in) != header_length - 6) {
        rc = E_HEADER;   /* the header and the 4 bytes after it */
        goto done;
    }
    out = fopen(target, "wb");
    if (!out) { rc = E_OPEN; goto done; }
    if (fwrite(header, 1, header_length, out) != header_length) { rc = E_WRITE; goto done; }
    int64_t produced = explode(window, 0, in, window, work, FILEBUF, out);
    if (produced < 0) rc = (int)produced;
done:
    if (out && fclose(out) != 0 && rc == 0) rc = E_WRITE;
    fclose(in);
    free(window);
    free(work);
    free(header);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * Compression ("implode", binary literals, 4 KiB dictionary), as DATASUS writes its
 * files: greedy longest matches found through hash chains over 3-byte prefixes. Used by
 * the synthetic state generator so that its DBCs look like real ones (about 10:1).
 * The codes are taken from the decoding tables above: for each symbol, the bits a decoder
 * reads for it. Streaming: the caller feeds pieces; matches reach back into the previous
 * piece's last 4 KiB.
 * ------------------------------------------------------------------------------------ */

#define HASH_BITS 15
#define MAX_CHAIN 48
#define MIN_MATCH 3
#define MAX_MATCH 518

typedef struct {
    uint8_t history[WINDOW];
    int64_t history_length;
    uint64_t bitbuf;
    int bitcount;
    int started;
} implode_state;

typedef struct { uint16_t bits; uint8_t length; } code;
static code len_codes[16], dist_codes[64];
static volatile int encoder_ready = 0;

static void codes_from_table(const table *t, code *codes, int symbols)
{
    for (int s = 0; s < symbols; s++) codes[s].length = 0;
    for (uint32_t pattern = 0; pattern < (1u << t->bits); pattern++) {
        uint16_t e = t->entry[pattern];
        int s = e >> 4, len = e & 15;
        if (len && s < symbols && !codes[s].length) {
            codes[s].bits = (uint16_t)(pattern & ((1u << len) - 1));
            codes[s].length = (uint8_t)len;
        }
    }
}

static void encoder_init(void)
{
    if (encoder_ready) return;
    rmds_explode_init();
    codes_from_table(&lentab, len_codes, 16);
    codes_from_table(&disttab, dist_codes, 64);
    encoder_ready = 1;
}

int64_t rmds_implode_state_size(void) { return (int64_t)sizeof(implode_state); }

typedef struct {
    implode_state *st;
    uint8_t *out;
    size_t pos;
} writer;

static inline void put_bits(writer *w, uint32_t value, int count)
{
    implode_state *st = w->st;
    st->bitbuf |= (uint64_t)value << st->bitcount;
    st->bitcount += count;
    while (st->bitcount >= 8) {
        w->out[w->pos++] = (uint8_t)st->bitbuf;
        st->bitbuf >>= 8;
        st->bitcount -= 8;
    }
}

static inline void put_match(writer *w, uint32_t length, uint32_t distance)
{
    put_bits(w, 1, 1);
    int symbol = 15;
    while (symbol > 0 && (uint32_t)base[symbol] > length) symbol--;
    if (length == 2) symbol = 1;          /* base[1] = 2 (the table is not sorted) */
    else if (length == 3) symbol = 0;
    put_bits(w, len_codes[symbol].bits, len_codes[symbol].length);
    put_bits(w, length - (uint32_t)base[symbol], extra[symbol]);
    if (length == 519) return;
    uint32_t d = distance - 1, shift = length == 2 ? 2 : 6;
    uint32_t high = d >> shift;
    put_bits(w, dist_codes[high].bits, dist_codes[high].length);
    put_bits(w, d & ((1u << shift) - 1), (int)shift);
}

static inline uint32_t hash3(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Compress `data` (n bytes) after the state's history into `out` (room for n * 9 / 8 + 16
 * bytes at least); with `last`, also the end code and the final partial byte. Returns the
 * bytes written, or E_MEMORY. */
int64_t rmds_implode(implode_state *st, const uint8_t *data, int64_t n, int last,
                     uint8_t *out)
{
    encoder_init();
    writer w = {st, out, 0};
    if (!st->started) {
        put_bits(&w, 0, 8);   /* binary (uncoded) literals */
        put_bits(&w, 6, 8);   /* 4 KiB dictionary */
        st->started = 1;
    }
    size_t total = (size_t)st->history_length + (size_t)n;
    uint8_t *buf = malloc(total + 8);
    int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
    int32_t *prev = malloc(sizeof(int32_t) * (total + 1));
    if (!buf || !head || !prev) { free(buf); free(head); free(prev); return E_MEMORY; }
    memcpy(buf, st->history, (size_t)st->history_length);
    memcpy(buf + st->history_length, data, (size_t)n);
    for (int i = 0; i < (1 << HASH_BITS); i++) head[i] = -1;
    size_t i = 0;
    /* the history only feeds the hash chains */
    for (; i < (size_t)st->history_length; i++) {
        if (i + MIN_MATCH <= total) {
            uint32_t h = hash3(buf + i);
            prev[i] = head[h];
            head[h] = (int32_t)i;
        }
    }
    while (i < total) {
        uint32_t best = 0, best_distance = 0;
        if (i + MIN_MATCH <= total) {
            uint32_t h = hash3(buf + i);
            int32_t candidate = head[h];
            size_t limit = total - i < MAX_MATCH ? total - i : MAX_MATCH;
            for (int chain = 0; candidate >= 0 && chain < MAX_CHAIN; chain++) {
                size_t distance = i - (size_t)candidate;
                if (distance > WINDOW) break;
                const uint8_t *a = buf + i, *b = buf + candidate;
                if (b[best] == a[best]) {
                    size_t k = 0;
                    while (k < limit && a[k] == b[k]) k++;
                    if (k > best) {
                        best = (uint32_t)k;
                        best_distance = (uint32_t)distance;
                        if (k == limit) break;
                    }
                }
                candidate = prev[candidate];
            }
            prev[i] = head[h];
            head[h] = (int32_t)i;
        }
        if (best >= MIN_MATCH) {
            put_match(&w, best, best_distance);
            for (size_t k = 1; k < best; k++) {   /* keep the chains complete */
                size_t j = i + k;
                if (j + MIN_MATCH <= total) {
                    uint32_t h = hash3(buf + j);
                    prev[j] = head[h];
                    head[h] = (int32_t)j;
                }
            }
            i += best;
        } else {
            put_bits(&w, (uint32_t)buf[i] << 1, 9);
            i++;
        }
    }
    size_t keep = total < WINDOW ? total : WINDOW;
    memcpy(st->history, buf + total - keep, keep);
    st->history_length = (int64_t)keep;
    free(buf);
    free(head);
    free(prev);
    if (last) {
        put_match(&w, 519, 0);
        if (st->bitcount > 0) {
            out[w.pos++] = (uint8_t)st->bitbuf;
            st->bitbuf = 0;
            st->bitcount = 0;
        }
    }
    return (int64_t)w.pos;
}
