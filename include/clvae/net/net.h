/* A network on the device: a graph of named layers, forward, backward, parameters in one allocation. */
#ifndef CLVAE_NET_H
#define CLVAE_NET_H

#include "clvae/device/tensor.h"
#include "clvae/net/config.h"

/* Opaque device state of one network. */
typedef struct clvae_net clvae_net_t;

/* Allocates the network's buffers for batches of up to max_batch examples (desc must outlive
 * it). With input_grad, backward can give the gradient with respect to the input (a GAN's
 * generator needs it through the discriminator). Parameters start at zero. */
clvae_status_t clvae_net_init(clvae_net_t **out, clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                              size_t max_batch, int input_grad, clvae_error_t *err);

/* Frees everything (NULL is fine). */
void clvae_net_free(clvae_net_t *net);

/* Glorot-uniform weights (fans from the kernel shape, as Keras) and zero biases from the Philox
 * host stream keyed by seed, layer by layer in order. */
clvae_status_t clvae_net_init_params(clvae_net_t *net, uint64_t seed, clvae_error_t *err);

/* The flat parameter and gradient arrays (desc->nparams floats each). */
clvae_buf_t clvae_net_params(const clvae_net_t *net);
clvae_buf_t clvae_net_grads(const clvae_net_t *net);

/* Gradient read-back during backward (data-parallel training overlaps the sum over the ranks
 * with the rest of the backward pass): with host set (nparams floats), every following
 * clvae_net_backward enqueues, after each layer with parameters, a non-blocking read of its
 * parameters' gradients into host at the same offsets (layer i's from its w_off up to the next
 * layer's). clvae_net_grad_reads gives the last backward's reads, the last layer's first:
 * events[j] completes when the gradients from from[j] on are in host. NULL: none (the
 * default). */
void clvae_net_watch_grads(clvae_net_t *net, float *host);
int clvae_net_grad_reads(const clvae_net_t *net, const cl_event **events, const size_t **from);

/* The flat array of non-trained state (desc->nstate floats: batch normalization's running
 * statistics), saved in checkpoints beside the parameters; a NULL view when there is none. */
clvae_buf_t clvae_net_state(const clvae_net_t *net);

/* Training mode (on) or evaluation mode (off, the start): in training mode a forward normalizes
 * with the batch's statistics and moves the running ones; in evaluation mode it uses the
 * running ones, so an example's output does not depend on its batch. A backward follows the
 * mode of the forward before it. */
void clvae_net_set_training(clvae_net_t *net, int on);

/* The input batch [max_batch, S_0]: fill it before forward. */
clvae_buf_t clvae_net_input(const clvae_net_t *net);

/* A conditional network's labels [max_batch] (class indices as floats), read by its implicit
 * label layers; a NULL view for other networks. */
clvae_buf_t clvae_net_labels(const clvae_net_t *net);

/* The time steps [max_batch] (one float per example, e.g. a diffusion step t) that [time_embed]
 * layers read; a NULL view when the model has none. Fill it before forward. */
clvae_buf_t clvae_net_times(const clvae_net_t *net);

/* Layer i's output after (pre = 0) or before (pre = 1) its activation, and their gradients. */
clvae_buf_t clvae_net_output(const clvae_net_t *net, int i, int pre);
clvae_buf_t clvae_net_output_grad(const clvae_net_t *net, int i, int pre);

/* The latent layer's buffers [max_batch, J]: k = 0 mu, 1 logvar, 2 eps. */
clvae_buf_t clvae_net_latent(const clvae_net_t *net, int k);

/* The latent layer's next forwards: z = mu + sigma eps with eps from the Philox stream
 * (seed, offset) when sample is 1, else z = mu; and the KL gradient its backward adds
 * (beta * scale * dKL; beta 0 adds none). */
void clvae_net_set_sampling(clvae_net_t *net, int sample, uint64_t seed, uint64_t offset);
void clvae_net_set_kl(clvae_net_t *net, float beta, float scale);

/* Forward of layers first..last (1 .. nlayers-1 for the whole network) over B examples. */
clvae_status_t clvae_net_forward_range(clvae_net_t *net, size_t B, int first, int last,
                                       clvae_error_t *err);

/* Forward of the whole network over the first B examples of the input. */
clvae_status_t clvae_net_forward(clvae_net_t *net, size_t B, clvae_error_t *err);

/* Backward of the last forward from the output gradient (clvae_net_output_grad of the last
 * layer, pre = dout_is_pre; the caller fills it) down to layer 1: parameter gradients are
 * ADDED to grads (zero them with clvae_net_zero_grads); with din.mem (a network made with
 * input_grad), the input's gradient [B, S_0] is written to din. A fan-out gets the sum of its
 * consumers' gradients. */
clvae_status_t clvae_net_backward(clvae_net_t *net, int dout_is_pre, clvae_buf_t din,
                                  clvae_error_t *err);

/* clvae_net_backward of layers nlayers-1 .. stop + 1 only: the gradient of layer stop's output
 * is left in clvae_net_output_grad(net, stop, 0) (a VAE's decoder down to its z); parameter
 * gradients of those layers are added as there. Refused (CLVAE_ERR_INVALID) for the input, the
 * output, a view, and when a layer after stop reads a layer before it (a skip connection). */
clvae_status_t clvae_net_backward_to(clvae_net_t *net, int dout_is_pre, int stop,
                                     clvae_error_t *err);

/* Zeroes the parameter gradients. */
clvae_status_t clvae_net_zero_grads(clvae_net_t *net, clvae_error_t *err);

/* Bytes of device memory the network allocated. */
size_t clvae_net_device_bytes(const clvae_net_t *net);

/* Profiling (a context opened with profiling): with on, forward and backward enqueue markers
 * after each layer; clvae_net_mark adds one that closes `layer` in phase (0 forward, 1
 * backward; layer -1 starts a phase); clvae_net_profile_read ADDS each layer's device time
 * (ns) of the last forward and backward into fwd_ns[layer] and bwd_ns[layer]. */
clvae_status_t clvae_net_profile(clvae_net_t *net, int on, clvae_error_t *err);
void clvae_net_mark(clvae_net_t *net, int layer, int phase);
clvae_status_t clvae_net_profile_read(clvae_net_t *net, double *fwd_ns, double *bwd_ns,
                                      clvae_error_t *err);

/* Floats per example and fixed floats the network allocates (for the batch that fits), the
 * largest per-example buffer and its layer. */
typedef struct clvae_net_footprint {
    size_t fixed, per, largest;
    int at;
} clvae_net_footprint_t;
clvae_net_footprint_t clvae_net_footprint(const clvae_model_desc_t *desc, int input_grad);

/* Parameter tensor i of the network (0-based), PyTorch state_dict style: fills its name,
 * offset in the flat array, ndim and shape; returns 0 when i is past the last. */
int clvae_net_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size, size_t *off,
                     int *ndim, uint64_t shape[4]);

/* Non-trained state tensor i of the network (0-based) with PyTorch's buffer names
 * ("encoder.1.running_mean", "...running_var", "...num_batches_tracked", a scalar): its name,
 * offset in the state array, ndim and shape; 0 when i is past the last. */
int clvae_net_state_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size,
                           size_t *off, int *ndim, uint64_t shape[4]);

/* A VQ-VAE's [vq] layer (the model's latent) after a forward: the code of each position
 * codes [B, P] (indices as floats), term [B] = sum over the example's positions of
 * ||z - q||^2, stats [3] = the perplexity of the batch's code use, the codes in use, the codes
 * restarted by a training forward; the codebook [K, D]; K, D, P; the layer's index. */
typedef struct clvae_net_vq {
    clvae_buf_t codes, term, stats, codebook;
    size_t K, D, P;
    int layer;
} clvae_net_vq_t;

/* Fills *out and returns 1 when the network's latent is a [vq] layer; else 0. */
int clvae_net_vq(const clvae_net_t *net, clvae_net_vq_t *out);

/* Whether a checkpoint tensor's name is a state tensor's (ends in ".running_mean" or another
 * suffix a layer kind gives its state). */
int clvae_net_is_state_name(const char *name);

#endif
