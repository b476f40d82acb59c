/* Helpers shared by every clvae kernel; included after the generated -D block. */

#ifndef CLVAE_WGS
#define CLVAE_WGS 64
#endif

/* Global id as a plain unsigned index (all clvae kernels are sized by uint n). */
#define CLVAE_GID0 ((uint)get_global_id(0))

#ifndef CLVAE_ROW_CHUNK
#define CLVAE_ROW_CHUNK 16u
#endif

/* Row kernels (launched by clvae_launch_rows over a [rows, len] tensor): the work item takes
 * the values s0 <= s < s1 of row r, a chunk of at most CLVAE_ROW_CHUNK. What depends on the row
 * only is then worked out once per chunk: on a CPU device a division or a gathered load per
 * value costs several times the value's own work (a group normalization ran 10x slower than a
 * copy of the same size with them). Declares r, s0 and s1; returns for the work items past the
 * last row (the launch rounds up). One division per work item. */
#define ROW_SPAN(len, rows)                                          \
    uint chunks_ = ((len) + CLVAE_ROW_CHUNK - 1u) / CLVAE_ROW_CHUNK; \
    uint r = CLVAE_GID0 / chunks_;                                   \
    if (r >= (rows)) return;                                         \
    uint s0 = (CLVAE_GID0 - r * chunks_) * CLVAE_ROW_CHUNK;          \
    uint s1 = min((uint)(len), s0 + CLVAE_ROW_CHUNK)

/* The class of label y (a class index stored as a float; cl/xent.cl and cl/concat.cl): y
 * itself when it is an integer in 0..K-1 (K <= 2^24, so (float)K is exact), else K, which
 * means "no class" and is never used as an index. NaN fails every comparison and gives K. */
uint label_class(float y, uint K)
{
    return (y >= 0.0f && y < (float)K && y == floor(y)) ? (uint)y : K;
}

/* Philox 4x32-10 counter-based streams (layout in include/clvae/ops/rng.h), shared by cl/rng.cl
 * and cl/noise.cl. Each stream kind has its own counter tag (the counter's third word):
 * 0 uniform, 1 normal (cl/rng.cl), 2 shuffle (host only, data.h), 3 gaussian noise and
 * 4 masking noise (cl/noise.cl). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define RNG_INV24 (1.0f / 16777216.0f)
#define RNG_TAG_UNIFORM 0u /* CLVAE_RNG_TAG_UNIFORM: also cl/xent.cl's draws, the same stream */
#define RNG_TAG_NORMAL 1u  /* CLVAE_RNG_TAG_NORMAL */

/* Ten Philox rounds, the key bumped by the Weyl constants before each round but the first. */
uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.x += PHILOX_W0;
            k.y += PHILOX_W1;
        }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

/* The four words of block `offset + b` of the stream (seed, tag). */
uint4 rng_block(ulong seed, ulong offset, uint b, uint tag)
{
    ulong blk = offset + (ulong)b;
    uint4 ctr = (uint4)((uint)blk, (uint)(blk >> 32), tag, 0u);
    uint2 key = (uint2)((uint)seed, (uint)(seed >> 32));
    return philox4x32_10(ctr, key);
}

/* Uniform element i of the stream (seed, offset) in [0, 1), as rng_uniform writes it: word
 * i mod 4 of block i / 4, taken through an array (Oclgrind 21.10 runs a chain of selects
 * i % 4 == 0 ? w.x : ... ? w.z : w.w as if it always picked w.w). */
float rng_uniform_at(ulong seed, ulong offset, uint i)
{
    uint4 w = rng_block(seed, offset, i / 4u, RNG_TAG_UNIFORM);
    uint words[4] = {w.x, w.y, w.z, w.w};
    return (float)(words[i & 3u] >> 8) * RNG_INV24;
}

/* Box-Muller on one pair of words: u1 in (0, 1] so that log never sees 0. */
float2 rng_box_muller(uint a, uint c)
{
    float u1 = ((float)(a >> 8) + 1.0f) * RNG_INV24;
    float u2 = (float)(c >> 8) * RNG_INV24;
    float r = sqrt(-2.0f * log(u1));
    float t = 2.0f * u2; /* exact: angle 2 pi u2 in units of pi */
    return (float2)(r * cospi(t), r * sinpi(t));
}
/* 1 when x is NaN or infinite: all exponent bits set. A test of the bits, not isfinite(),
 * which a compiler may fold to a constant under -cl-fast-relaxed-math (finite maths only). */
#define CLVAE_NONFINITE(x) ((as_uint(x) & 0x7f800000u) == 0x7f800000u)

/* Eight-lane helpers of the reductions (cl/loss.cl, cl/norm.cl, cl/reduce.cl). */

/* The n < 8 floats at p as the first lanes of a float8, the others 0 (all 8 when n >= 8). */
float8 clvae_load8(__global const float *p, uint n)
{
    if (n >= 8u) return vload8(0, p);
    float t[8];
    for (uint l = 0; l < 8u; l++) {
        float v = p[l < n ? l : 0u];
        t[l] = l < n ? v : 0.0f;
    }
    return vload8(0, t);
}

/* Lanes l < n all bits set, the others 0. */
int8 clvae_lanes8(uint n)
{
    int8 l = (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    return l < (int8)((int)min(n, 8u));
}

/* The lanes of v added in lane order (through a private array: Oclgrind 21.10's
 * --uninitialized crashed on the sum of v.s0 ... v.s7). */
float clvae_sum8(float8 v)
{
    float t[8];
    vstore8(v, 0, t);
    float s = t[0];
    for (uint l = 1; l < 8u; l++) s += t[l];
    return s;
}

/* ---- activations (cl/activation.cl's kernels; the conv kernels' epilogues) ---- */

#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_SILU 5

/* sigmoid(x) into *s and 1 - sigmoid(x) into *sc, taking exp of -|x| only, so that no
 * intermediate overflows (sigmoid(+-inf) = 1 / 0, NaN stays NaN). */
void act_sigmoid_pair(float x, float *s, float *sc)
{
    float e = exp(-fabs(x));
    float r = 1.0f / (1.0f + e);
    *s = x >= 0.0f ? r : e * r;
    *sc = x >= 0.0f ? e * r : r;
    if (isnan(x)) *s = *sc = x;
}

float act_f(float x, uint act, float slope)
{
    float s, sc;
    switch (act) {
    case ACT_RELU: return x > 0.0f || isnan(x) ? x : 0.0f;
    case ACT_LEAKY_RELU: return x < 0.0f ? (slope > 0.0f ? slope * x : 0.0f) : x;
    case ACT_SIGMOID: act_sigmoid_pair(x, &s, &sc); return s;
    case ACT_TANH: /* tanh rounds to +-1 beyond |x| = 9.02; some libraries stop 1 ulp short */
        return fabs(x) > 9.1f ? copysign(1.0f, x) : tanh(x);
    case ACT_SILU:
        if (isinf(x)) return x > 0.0f ? x : 0.0f; /* not -inf * 0 */
        act_sigmoid_pair(x, &s, &sc);
        return x * s;
    default: return x;
    }
}

/* act'(x) from v = x (SILU) or v = y = act(x) (the others); NaN in, NaN out. */
float act_df(float v, uint act, float slope)
{
    float s, sc;
    if (isnan(v)) return v;
    switch (act) {
    case ACT_RELU: return v > 0.0f ? 1.0f : 0.0f;
    case ACT_LEAKY_RELU: return v > 0.0f ? 1.0f : slope;
    case ACT_SIGMOID: return v * (1.0f - v);
    case ACT_TANH: return (1.0f - v) * (1.0f + v);
    case ACT_SILU:
        if (isinf(v)) return v > 0.0f ? 1.0f : 0.0f;
        act_sigmoid_pair(v, &s, &sc);
        return s * (1.0f + v * sc);
    default: return 1.0f;
    }
}

/* The loop of a chunk [s0, s1) with the activation a compile-time constant in each case (the
 * switch once per chunk, not once per value: act_f and act_df inline to straight-line code). */
#define ACT_CASES(LOOP)                                  \
    switch (act) {                                       \
    case ACT_RELU: LOOP(ACT_RELU); break;                \
    case ACT_LEAKY_RELU: LOOP(ACT_LEAKY_RELU); break;    \
    case ACT_SIGMOID: LOOP(ACT_SIGMOID); break;          \
    case ACT_TANH: LOOP(ACT_TANH); break;                \
    case ACT_SILU: LOOP(ACT_SILU); break;                \
    default: LOOP(ACT_IDENTITY); break;                  \
    }

/* Token pasting after macro expansion (CLVAE_CAT(vload, CD_VW) -> vload8). */
#define CLVAE_CAT_(a, b) a##b
#define CLVAE_CAT(a, b) CLVAE_CAT_(a, b)

/* Defines T NAME(T s, uint act, float slope): act_f of each of the N lanes of the vector type T
 * (the activation fused into a vector store): leaky ReLU and ReLU as vector selects, the others
 * lane by lane; the same values as act_f of each lane. */
#define CLVAE_ACT_VEC(NAME, T, N)                                                       \
    T NAME(T s, uint act, float slope)                                                  \
    {                                                                                   \
        if (act == ACT_IDENTITY) return s;                                              \
        if (act == ACT_LEAKY_RELU && slope > 0.0f)                                      \
            return select(s, s * slope, isless(s, (T)0.0f));                            \
        if (act == ACT_LEAKY_RELU) return select(s, (T)0.0f, isless(s, (T)0.0f));      \
        if (act == ACT_RELU) return select((T)0.0f, s, isgreater(s, (T)0.0f) | isnan(s)); \
        float t[N];                                                                     \
        CLVAE_CAT(vstore, N)(s, 0, t);                                                  \
        for (uint l = 0; l < (N); l++) t[l] = act_f(t[l], act, slope);                  \
        return CLVAE_CAT(vload, N)(0, t);                                               \
    }
