/* The figures of a trained model: samples, reconstructions, manifold, latent scatter, curves. */
#ifndef CLVAE_FIGURES_H
#define CLVAE_FIGURES_H

#include "clvae/data/data.h"
#include "clvae/train/objective.h"
#include "clvae/train/train.h"

/* Writes n images of shape's size (host, n x C*H*W in [0, 1]) as a PNG grid of cols columns,
 * magnified for small images (8x8 by 6, up to 32x32 by 2). */
clvae_status_t clvae_fig_grid_save(const float *imgs, size_t n, const clvae_dataset_t *shape,
                                   int cols, const char *path, clvae_error_t *err);

/* clvae_fig_grid_save under a title (NULL: none) on white, with a label left of each row
 * (row_labels: one per row, NULL: none) and above each column (col_labels: cols of them, NULL:
 * none), in the built-in font. */
clvae_status_t clvae_fig_grid_labelled(const float *imgs, size_t n, const clvae_dataset_t *shape,
                                       int cols, const char *title,
                                       const char *const *row_labels,
                                       const char *const *col_labels, const char *path,
                                       clvae_error_t *err);

/* CLVAE_ERR_INVALID (naming --label) unless label is one of a conditional model's classes. */
clvae_status_t clvae_fig_check_label(const clvae_objective_t *model, int label, clvae_error_t *err);

/* Style transfer with a conditional model: for each of the nfrom (1 to 16) test images from[],
 * its z_mean (encoded with its label) decoded with every label 0..K-1: one row per source, the
 * source image first, then K columns. CLVAE_ERR_INVALID for an unconditional model, data
 * without labels, or an index past the data. */
clvae_status_t clvae_fig_restyle(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                 const size_t *from, int nfrom, const char *path,
                                 clvae_error_t *err);

/* Decodes n latents z (host, n x J) into out (n x D) in batches the model holds; a conditional
 * model decodes latent i with class labels[i] (labels NULL: CLVAE_ERR_INVALID for it). */
clvae_status_t clvae_decode_labeled(clvae_ctx_t *ctx, clvae_objective_t *model, const float *z,
                                    const float *labels, size_t n, float *out, clvae_error_t *err);

/* Samples of a conditional model (z ~ N(0, I) from the Philox host stream (seed)): with
 * label >= 0, a square grid of n decodes of that class; with label < 0, K rows (one per class
 * 0..K-1) of ceil(n / K) columns, each column one z decoded with every label. A model that is
 * not conditional: CLVAE_ERR_INVALID when label >= 0, else clvae_fig_samples. */
clvae_status_t clvae_fig_samples_label(clvae_ctx_t *ctx, clvae_objective_t *model,
                                       const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                       int label, const char *path, clvae_error_t *err);

/* A grid of n decodes of z ~ N(0, I) drawn from the Philox host stream (seed). */
clvae_status_t clvae_fig_samples(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                 const char *path, clvae_error_t *err);

/* One row of n decodes of fixed z (the Philox host stream (seed)); a conditional model's
 * column i has class i mod K: the same row every epoch shows how the generator forms. */
clvae_status_t clvae_fig_progress_row(clvae_ctx_t *ctx, clvae_objective_t *model,
                                      const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                      const char *path, clvae_error_t *err);

/* The rows DIR/progress/epoch_001.png .. epoch_<epochs>.png stacked top to bottom into path. */
clvae_status_t clvae_fig_progress_strip(const char *dir, long epochs, const char *path,
                                        clvae_error_t *err);

/* The first n examples of dd (top row) above their reconstructions through z = mu. */
clvae_status_t clvae_fig_reconstruct(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                     size_t n, const char *path, clvae_error_t *err);

/* The latent codes of the manifold figure: *z = grid x grid codes of J dimensions, zero but for
 * dimensions dx (left to right) and dy (upwards) spanning [-range, range]; caller frees *z.
 * Refused (CLVAE_ERR_INVALID) for a grid outside 2..64, a range <= 0, or bad dimensions. */
clvae_status_t clvae_manifold_codes(size_t J, int grid, float range, int dx, int dy, float **z,
                                    clvae_error_t *err);

/* Decodes of a grid x grid lattice over [-range, range]^2 of latent dimensions dx, dy (the
 * others 0): the 2-D manifold; y grows upwards. */
clvae_status_t clvae_fig_manifold(clvae_ctx_t *ctx, clvae_objective_t *model,
                                  const clvae_dataset_t *shape, int grid, float range, int dx,
                                  int dy, const char *path, clvae_error_t *err);

/* The latent means z_mean [n, J] of the first n examples of data (all: n 0), in batches of
 * the model's size (a conditional model reads their labels). */
clvae_status_t clvae_encode_means(clvae_ctx_t *ctx, clvae_objective_t *model,
                                  const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                  size_t n, float *mu, clvae_error_t *err);

/* Scatter of z_mean (dimensions dx, dy) of the first n examples coloured by class, and a CSV
 * (index,label,z0,z1,...) beside it when csv_path is not NULL. */
clvae_status_t clvae_fig_latent(clvae_ctx_t *ctx, clvae_objective_t *model,
                                const clvae_dataset_t *data, const clvae_data_dev_t *dd, size_t n,
                                int dx, int dy, const char *path, const char *csv_path,
                                clvae_error_t *err);

/* A strip of steps decodes on the line between the z_mean of examples i and j (both ends
 * included), with the two originals at its ends. */
clvae_status_t clvae_fig_interpolate(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                     size_t i, size_t j, int steps, const char *path,
                                     clvae_error_t *err);

/* The formation of the latent space over training: the latent snapshots of run folder dir
 * (dir/latent/epoch_NNN.csv, written with [train] snapshot_every) as scatter panels of z0 and
 * z1 by class, one per epoch (up to 8, evenly chosen, the last always), four a row, under a
 * title. CLVAE_ERR_NOT_FOUND when dir has none. */
clvae_status_t clvae_fig_latent_epochs(const char *dir, const char *path, clvae_error_t *err);

/* Reconstructions (z = mu, the output activation) of the first n examples of dd into out
 * (n x D floats). */
clvae_status_t clvae_reconstruct_first(clvae_ctx_t *ctx, clvae_objective_t *model,
                                       const clvae_data_dev_t *dd, size_t n, float *out,
                                       clvae_error_t *err);

/* Loss curves: one panel per loss column of the rows (the objective's column names,
 * clvae_objective_columns: total, reconstruction, KL; a classifier's cross-entropy and
 * accuracy), each with its train and test curve per epoch and, from steps_text (the run's
 * steps.csv; NULL: none), the train curve at every loss readback beneath them; three panels a
 * row under the title. */
clvae_status_t clvae_fig_loss(const clvae_epoch_metrics_t *rows, size_t n,
                              const char *const *columns, const char *title,
                              const char *steps_text, const char *path, clvae_error_t *err);

#endif
