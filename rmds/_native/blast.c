/*
 * PKWare DCL "implode" decompression for DATASUS .dbc files, streaming file to file.
 *
 * Written for rmds after the format as documented by Mark Adler's blast.c (zlib
 * contrib): a byte saying whether literals are Huffman coded, a byte with the dictionary
 * size (4, 5 or 6 → 1, 2 or 4 KiB), then LSB-first codes: a 0 bit and a literal, or a 1
 * bit, a length code and a distance code; length 519 ends the stream. Huffman codes are
 * stored bit-inverted.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAXBITS 13
#define WINDOW 4096
#define OUTSIZE (1 << 20)
#define INSIZE (1 << 16)

typedef struct {
    FILE *in;
    uint8_t inbuf[INSIZE];
    size_t inpos, inlen;
    int eof;
    uint32_t bitbuf;
    int bitcnt;
    FILE *out;
    uint8_t obuf[OUTSIZE];
    size_t opos;       /* bytes in obuf */
    uint64_t total;    /* bytes produced */
    int error;
} state;

typedef struct {
    short count[MAXBITS + 1];
    short symbol[256];
} huffman;

static int next_byte(state *s)
{
    if (s->inpos == s->inlen) {
        s->inlen = fread(s->inbuf, 1, INSIZE, s->in);
        s->inpos = 0;
        if (s->inlen == 0) { s->eof = 1; return -1; }
    }
    return s->inbuf[s->inpos++];
}

static int bits(state *s, int need)
{
    uint32_t val = s->bitbuf;
    while (s->bitcnt < need) {
        int byte = next_byte(s);
        if (byte < 0) { s->error = -10; return 0; }
        val |= (uint32_t)byte << s->bitcnt;
        s->bitcnt += 8;
    }
    s->bitbuf = val >> need;
    s->bitcnt -= need;
    return (int)(val & ((1u << need) - 1));
}

static int decode(state *s, const huffman *h)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAXBITS; len++) {
        code |= bits(s, 1) ^ 1;
        if (s->error) return -1;
        int count = h->count[len];
        if (code < first + count) return h->symbol[index + (code - first)];
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    s->error = -11;
    return -1;
}

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

static int flush(state *s)
{
    /* write all but the last WINDOW bytes, which stay as history */
    if (s->opos <= WINDOW) return 0;
    size_t keep = WINDOW, write = s->opos - keep;
    if (fwrite(s->obuf, 1, write, s->out) != write) return -20;
    memmove(s->obuf, s->obuf + write, keep);
    s->opos = keep;
    return 0;
}

static inline int put(state *s, uint8_t byte)
{
    if (s->opos == OUTSIZE && flush(s)) return -20;
    s->obuf[s->opos++] = byte;
    s->total++;
    return 0;
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

static int explode(state *s)
{
    static huffman litcode, lencode, distcode;
    static int built = 0;
    if (!built) {
        construct(&litcode, litlen, sizeof(litlen));
        construct(&lencode, lenlen, sizeof(lenlen));
        construct(&distcode, distlen, sizeof(distlen));
        built = 1;
    }
    int lit = bits(s, 8);
    if (s->error) return s->error;
    if (lit > 1) return -1;
    int dict = bits(s, 8);
    if (s->error) return s->error;
    if (dict < 4 || dict > 6) return -2;
    for (;;) {
        if (bits(s, 1)) {
            int symbol = decode(s, &lencode);
            if (s->error) return s->error;
            int len = base[symbol] + bits(s, extra[symbol]);
            if (s->error) return s->error;
            if (len == 519) break;
            int shift = len == 2 ? 2 : dict;
            int dist = decode(s, &distcode) << shift;
            if (s->error) return s->error;
            dist += bits(s, shift);
            if (s->error) return s->error;
            dist++;
            if ((uint64_t)dist > s->total) return -3;
            while (len--) {
                if (s->opos == OUTSIZE && flush(s)) return -20;
                s->obuf[s->opos] = s->obuf[s->opos - dist];
                s->opos++;
                s->total++;
            }
        } else {
            int symbol = lit ? decode(s, &litcode) : bits(s, 8);
            if (s->error) return s->error;
            if (put(s, (uint8_t)symbol)) return -20;
        }
    }
    if (fwrite(s->obuf, 1, s->opos, s->out) != s->opos) return -20;
    return 0;
}

/* Decompress a .dbc into a .dbf. Returns 0, or a negative error:
 * -30 cannot open, -31 short header, -1..-3 / -10 / -11 corrupt stream, -20 write error. */
int rmds_dbc_to_dbf(const char *source, const char *target)
{
    static state s;  /* large buffers: not on the stack; one call at a time per process */
    memset(&s, 0, sizeof(s));
    FILE *in = fopen(source, "rb");
    if (!in) return -30;
    FILE *out = fopen(target, "wb");
    if (!out) { fclose(in); return -30; }
    uint8_t head[10];
    int rc = 0;
    if (fread(head, 1, 10, in) != 10) { rc = -31; goto done; }
    size_t header_length = (size_t)head[8] | ((size_t)head[9] << 8);
    if (header_length < 32) { rc = -31; goto done; }
    {
        uint8_t buffer[65536];
        if (header_length > sizeof(buffer)) { rc = -31; goto done; }
        memcpy(buffer, head, 10);
        if (fread(buffer + 10, 1, header_length - 10, in) != header_length - 10) {
            rc = -31; goto done;
        }
        if (fwrite(buffer, 1, header_length, out) != header_length) { rc = -20; goto done; }
        uint8_t crc[4];
        if (fread(crc, 1, 4, in) != 4) { rc = -31; goto done; }
    }
    s.in = in;
    s.out = out;
    rc = explode(&s);
done:
    fclose(in);
    if (fclose(out) != 0 && rc == 0) rc = -20;
    return rc;
}
