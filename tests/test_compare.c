/* The comparison's pieces on the host: metrics summaries, the markdown table, the side-by-side PNG. */
#define TEST_FILE "test_compare"
#include "test.h"

#include <math.h>
#include <unistd.h>

#include "clvae/eval/compare.h"
#include "clvae/eval/score.h"

static void t_metrics_summary(void)
{
    const char *text = "epoch,train_loss,train_recon,train_kl,test_loss,test_recon,test_kl,seconds,"
                       "images_per_s\n1,3,3,0,2,2,0,10.5,100\n2,2,2,0,1,1,0,9.5,110\n";
    long epochs;
    double spe;
    clvae_error_t err = {0};
    CHECK(clvae_metrics_summary(text, &epochs, &spe, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(epochs == 2 && fabs(spe - 10.0) < 1e-12, "epochs %ld, s/epoch %g", epochs, spe);
    CHECK(clvae_metrics_summary("", &epochs, &spe, &err) == CLVAE_OK && epochs == 0 && isnan(spe),
          "empty metrics: %ld %g", epochs, spe);
    CHECK(clvae_metrics_summary("h\n1,2,3\n", &epochs, &spe, &err) == CLVAE_ERR_CORRUPT,
          "a short row accepted");
    clvae_error_clear(&err);
}

static void t_markdown(void)
{
    clvae_compare_row_t r[2];
    clvae_compare_row_init(&r[0]);
    clvae_compare_row_init(&r[1]);
    snprintf(r[0].name, sizeof r[0].name, "runs/a|b");
    snprintf(r[0].kind, sizeof r[0].kind, "vae");
    r[0].epochs = 5;
    r[0].params = 207237;
    r[0].recon = 152.2134;
    snprintf(r[0].recon_kind, sizeof r[0].recon_kind, "BCE");
    r[0].elbo = -157.5;
    r[0].frechet = 3.25;
    snprintf(r[1].name, sizeof r[1].name, "runs/ae");
    snprintf(r[1].kind, sizeof r[1].kind, "ae");
    char *md = clvae_compare_markdown(r, 2, "FID (own MNIST classifier)", 0);
    REQUIRE(md, "no table");
    /* header, separator, two rows; unused columns (log p(x), accuracy, confidence) left out */
    CHECK(strstr(md, "| run | model | kind | dataset | epochs | parameters | s/epoch | test "
                     "reconstruction (per image) | ELBO (nats/image) | FID (own MNIST "
                     "classifier) |\n") == md, "header:\n%s", md);
    CHECK(strstr(md, "| runs/a/b | - | vae | - | 5 | 207237 | - | 152.21 (BCE) | -157.50 | 3.25 |\n"),
          "vae row:\n%s", md);
    CHECK(strstr(md, "| runs/ae | - | ae | - | - | - | - | - | - | - |\n"), "ae row:\n%s", md);
    int lines = 0;
    for (const char *p = md; *p; p++) lines += *p == '\n';
    CHECK(lines == 4, "%d lines", lines);
    free(md);
    md = clvae_compare_markdown(r, 2, "FID (own MNIST classifier)", 1);
    REQUIRE(md, "no table");
    CHECK(strstr(md, "| log p(x) IWAE (nats/image) | test accuracy |") != NULL, "keep_all:\n%s", md);
    free(md);
}

static void t_png(void)
{
    clvae_image_t a = {0}, b = {0}, back = {0};
    clvae_error_t err = {0};
    REQUIRE(clvae_image_init(&a, 40, 30, 1, 0, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_image_init(&b, 20, 50, 1, 0, &err) == CLVAE_OK, "%s", err.msg);
    clvae_compare_panel_t p[2] = {{"first run", &a}, {"b", &b}};
    char path[64];
    snprintf(path, sizeof path, "/tmp/clvae_test_compare_%ld.png", (long)getpid());
    REQUIRE(clvae_compare_png(p, 2, path, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_png_read(path, &back, &err) == CLVAE_OK, "%s", err.msg);
    unlink(path);
    CHECK(back.channels == 3 && back.h > 50 && back.w > 60, "%dx%dx%d", back.w, back.h, back.channels);
    /* both panels are there: black pixels below the caption band, and caption ink */
    size_t black = 0;
    for (size_t i = 0; i < (size_t)back.w * (size_t)back.h; i++)
        black += back.px[3 * i] == 0 && back.px[3 * i + 1] == 0 && back.px[3 * i + 2] == 0;
    CHECK(black > 40 * 30 + 20 * 50, "%zu black pixels", black);
    CHECK(clvae_compare_png(p, 0, path, &err) == CLVAE_ERR_INVALID, "no panels accepted");
    clvae_image_free(&a);
    clvae_image_free(&b);
    clvae_image_free(&back);
    clvae_error_clear(&err);
}

/* Mode collapse: a class under a third of its share (n / K) is listed, one at a third is not;
 * compare's column says which, "none", or "-" for a run that was not scored. */
static void t_mode_collapse(void)
{
    size_t hist[10] = {100, 100, 33, 100, 34, 100, 0, 100, 100, 100};
    clvae_score_t sc;
    memset(&sc, 0, sizeof sc);
    sc.n = 1000;
    sc.classes = 10;
    sc.hist = hist;
    char buf[64];
    int n = clvae_score_collapse(&sc, buf, sizeof buf);
    CHECK(n == 2 && strcmp(buf, "2, 6") == 0, "%d classes: '%s'", n, buf);
    size_t even[10] = {100, 100, 100, 100, 100, 100, 100, 100, 100, 100};
    sc.hist = even;
    CHECK(clvae_score_collapse(&sc, buf, sizeof buf) == 0 && buf[0] == 0, "even: '%s'", buf);
    clvae_compare_row_t rows[3];
    for (int i = 0; i < 3; i++) clvae_compare_row_init(&rows[i]);
    snprintf(rows[0].name, sizeof rows[0].name, "gan");
    rows[0].scored = 1;
    snprintf(rows[0].collapsed, sizeof rows[0].collapsed, "2, 6");
    snprintf(rows[1].name, sizeof rows[1].name, "vae");
    rows[1].scored = 1;
    snprintf(rows[2].name, sizeof rows[2].name, "cls");
    char *md = clvae_compare_markdown(rows, 3, NULL, 0);
    CHECK(md && strstr(md, "classes under 1/3 of their share |") && strstr(md, "| 2, 6 |") &&
              strstr(md, "| none |"), "%s", md ? md : "(null)");
    free(md);
}

int main(void)
{
    RUN(t_metrics_summary);
    RUN(t_markdown);
    RUN(t_png);
    RUN(t_mode_collapse);
    return TEST_EXIT();
}
