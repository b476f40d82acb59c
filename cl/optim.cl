/* Optimizers as one flat launch over all parameters: Adam and SGD with momentum. */

/* The step is skipped (p and the moments untouched) when use_skip is set and skip[skip_off]
 * is not 0: the device-side count of NaN and infinite values in the loss and gradients. */
#define SKIPPED (use_skip && skip[skip_off] != 0.0f)

/* PyTorch's Adam (torch.optim.Adam, amsgrad off): g += wd * p; m = lerp(m, g, 1-b1);
 * v = b2 v + (1-b2) g^2; p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), where the
 * host passes step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t). */
__kernel void adam_step(__global float *p, uint p_off, __global const float *g, uint g_off,
                        __global float *m, uint m_off, __global float *v, uint v_off,
                        float beta1, float beta2, float eps, float wd, float step_size,
                        float bc2_sqrt, uint n, __global const float *skip, uint skip_off,
                        uint use_skip)
{
    uint i = CLVAE_GID0;
    if (i >= n || SKIPPED) return;
    float pi = p[p_off + i];
    float gi = g[g_off + i];
    if (wd != 0.0f) gi = gi + wd * pi;
    float mi = m[m_off + i];
    mi = mi + (1.0f - beta1) * (gi - mi);
    float vi = v[v_off + i] * beta2 + (1.0f - beta2) * gi * gi;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    float denom = sqrt(vi) / bc2_sqrt + eps;
    p[p_off + i] = pi - step_size * (mi / denom);
}

/* PyTorch's SGD (torch.optim.SGD, nesterov off): d = g + wd * p; with momentum,
 * buf = first ? d : momentum * buf + (1 - dampening) * d, and d = buf; p -= lr * d. */
__kernel void sgd_step(__global float *p, uint p_off, __global const float *g, uint g_off,
                       __global float *buf, uint buf_off, float lr, float momentum,
                       float dampening, float wd, uint first, uint n,
                       __global const float *skip, uint skip_off, uint use_skip)
{
    uint i = CLVAE_GID0;
    if (i >= n || SKIPPED) return;
    float pi = p[p_off + i];
    float d = g[g_off + i];
    if (wd != 0.0f) d = d + wd * pi;
    if (momentum != 0.0f) {
        float b = first ? d : momentum * buf[buf_off + i] + (1.0f - dampening) * d;
        buf[buf_off + i] = b;
        d = b;
    }
    p[p_off + i] = pi - lr * d;
}

/* The exponential moving average of the weights after a step: e = decay e + (1 - decay) p,
 * written as e + (1 - decay) (p - e) (torch.optim.swa_utils' EMA: lerp); skipped with the step. */
__kernel void ema_step(__global float *e, uint e_off, __global const float *p, uint p_off,
                       float decay, uint n, __global const float *skip, uint skip_off,
                       uint use_skip)
{
    uint i = CLVAE_GID0;
    if (i >= n || SKIPPED) return;
    float ei = e[e_off + i];
    e[e_off + i] = ei + (1.0f - decay) * (p[p_off + i] - ei);
}
