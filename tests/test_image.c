/* Images: init, exact grids, PNG round trips, atomic writes and hostile PNG files. */
#define TEST_FILE "test_image"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "clvae/io/image.h"

static char tmpdir[256];

/* path = tmpdir/name */
static void in_tmp(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
}

/* Names in dir (not . and ..) joined by ',' in directory order, and their count. */
static int list_dir(const char *dir, char *names, size_t size)
{
    DIR *d = opendir(dir);
    names[0] = 0;
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t len = strlen(names);
        snprintf(names + len, size - len, "%s%s", n ? "," : "", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Reads the whole file into a new buffer (free it); NULL on failure. */
static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* An image with a pattern that differs in every byte position mod 251. */
static int make_pattern(clvae_image_t *img, int w, int h, int c, int seed)
{
    clvae_error_t err = {0};
    if (clvae_image_init(img, w, h, c, 0, &err) != CLVAE_OK) return -1;
    size_t n = (size_t)w * h * c;
    for (size_t i = 0; i < n; i++) img->px[i] = (uint8_t)((i * 7 + (size_t)seed * 31) % 251);
    return 0;
}

static int same_image(const clvae_image_t *a, const clvae_image_t *b)
{
    if (a->w != b->w || a->h != b->h || a->channels != b->channels) return 0;
    return memcmp(a->px, b->px, (size_t)a->w * a->h * a->channels) == 0;
}

static void t_init_and_free(void)
{
    clvae_error_t err = {0};
    clvae_image_t img;
    REQUIRE(clvae_image_init(&img, 3, 2, 3, 7, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(img.w == 3 && img.h == 2 && img.channels == 3, "got %dx%dx%d", img.w, img.h,
          img.channels);
    int all7 = 1;
    for (int i = 0; i < 18; i++) all7 &= img.px[i] == 7;
    CHECK(all7, "not every byte is 7");
    clvae_image_free(&img);
    CHECK(img.px == NULL && img.w == 0, "free did not zero the struct");
    clvae_image_free(&img); /* a zeroed struct is fine */
    clvae_image_free(NULL);

    struct { int w, h, c; } bad[] = {{0, 5, 1}, {5, 0, 1}, {-1, 5, 3}, {16385, 1, 1},
                                     {1, 16385, 3}, {4, 4, 2}, {4, 4, 4}, {4, 4, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clvae_error_clear(&err);
        memset(&img, 0xAB, sizeof img);
        clvae_status_t s = clvae_image_init(&img, bad[i].w, bad[i].h, bad[i].c, 0, &err);
        CHECK(s == CLVAE_ERR_INVALID, "%dx%dx%d: %s", bad[i].w, bad[i].h, bad[i].c,
              clvae_status_name(s));
        CHECK(img.px == NULL, "%dx%dx%d: pixels left set", bad[i].w, bad[i].h, bad[i].c);
        CHECK(strstr(err.msg, "image") != NULL, "message: %s", err.msg);
    }
    REQUIRE(clvae_image_init(&img, 16384, 1, 1, 255, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(img.px[16383] == 255, "last byte %d", img.px[16383]);
    clvae_image_free(&img);
}

static void t_png_round_trip(void)
{
    clvae_error_t err = {0};
    clvae_image_t gray, rgb, back;
    REQUIRE(make_pattern(&gray, 37, 23, 1, 1) == 0, "no memory");
    REQUIRE(make_pattern(&rgb, 19, 31, 3, 2) == 0, "no memory");
    char pg[512], pr[512];
    in_tmp(pg, sizeof pg, "gray.png");
    in_tmp(pr, sizeof pr, "rgb.png");
    CHECK(clvae_png_write(pg, &gray, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_png_write(pr, &rgb, &err) == CLVAE_OK, "%s", err.msg);

    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    uint8_t *bytes = read_bytes(pg, &n);
    CHECK(bytes && n > 8 && memcmp(bytes, sig, 8) == 0, "%s does not start with the signature",
          pg);
    /* IHDR: width 37, height 23, depth 8, colour type 0 (gray) */
    CHECK(bytes && n > 26 && bytes[19] == 37 && bytes[23] == 23 && bytes[24] == 8 &&
              bytes[25] == 0,
          "gray IHDR is wrong");
    free(bytes);
    bytes = read_bytes(pr, &n);
    CHECK(bytes && n > 26 && memcmp(bytes, sig, 8) == 0 && bytes[25] == 2, "RGB header wrong");
    free(bytes);

    CHECK(clvae_png_read(pg, &back, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(same_image(&gray, &back), "gray image differs after the round trip");
    clvae_image_free(&back);
    CHECK(clvae_png_read(pr, &back, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(same_image(&rgb, &back), "RGB image differs after the round trip");
    clvae_image_free(&back);

    /* Overwriting replaces the file; only the two files remain, no temp. */
    clvae_image_t other;
    REQUIRE(make_pattern(&other, 5, 64, 3, 9) == 0, "no memory");
    CHECK(clvae_png_write(pg, &other, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_png_read(pg, &back, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(same_image(&other, &back), "overwritten file does not hold the new image");
    clvae_image_free(&back);
    char names[1024];
    int count = list_dir(tmpdir, names, sizeof names);
    CHECK(count == 2, "folder holds %d files: %s", count, names);

    /* a bare file name: written in the current folder */
    char cwd[1024];
    REQUIRE(getcwd(cwd, sizeof cwd) && chdir(tmpdir) == 0, "cannot enter %s", tmpdir);
    clvae_status_t s = clvae_png_write("bare.png", &rgb, &err);
    int read_ok = s == CLVAE_OK && clvae_png_read("bare.png", &back, &err) == CLVAE_OK;
    unlink("bare.png");
    REQUIRE(chdir(cwd) == 0, "cannot go back to %s", cwd);
    CHECK(read_ok && same_image(&rgb, &back), "bare file name: %s", err.msg);
    if (read_ok) clvae_image_free(&back);

    /* 1x1 extremes */
    clvae_image_t one;
    REQUIRE(clvae_image_init(&one, 1, 1, 1, 200, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_png_write(pg, &one, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_png_read(pg, &back, &err) == CLVAE_OK && back.w == 1 && back.h == 1 &&
              back.px[0] == 200,
          "1x1 round trip: %s", err.msg);
    clvae_image_free(&back);
    clvae_image_free(&one);
    clvae_image_free(&other);
    clvae_image_free(&gray);
    clvae_image_free(&rgb);
    unlink(pg);
    unlink(pr);
}

static void t_png_write_unwritable(void)
{
    clvae_error_t err = {0};
    clvae_image_t img;
    REQUIRE(make_pattern(&img, 8, 8, 1, 3) == 0, "no memory");
    char file[512], path[512], before[1024], after[1024];
    in_tmp(file, sizeof file, "plain_file");
    REQUIRE(write_bytes(file, "x", 1) == 0, "cannot make %s", file);
    in_tmp(path, sizeof path, "sub");
    REQUIRE(mkdir(path, 0755) == 0, "cannot make %s", path);
    list_dir(tmpdir, before, sizeof before);

    const char *names[] = {"missing/x.png", "plain_file/x.png", "sub"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        in_tmp(path, sizeof path, names[i]);
        clvae_error_clear(&err);
        clvae_status_t s = clvae_png_write(path, &img, &err);
        CHECK(s == CLVAE_ERR_IO, "%s: %s", names[i], clvae_status_name(s));
        CHECK(strstr(err.msg, path) != NULL, "message does not name %s: %s", path, err.msg);
        list_dir(tmpdir, after, sizeof after);
        CHECK(strcmp(before, after) == 0, "%s: folder was [%s], is [%s]", names[i], before,
              after);
    }
    char sub[512];
    in_tmp(sub, sizeof sub, "sub");
    CHECK(list_dir(sub, after, sizeof after) == 0, "a temp file was left in sub/: %s", after);

    /* invalid images are refused before any file is made */
    clvae_image_t bad = img;
    bad.channels = 4;
    in_tmp(path, sizeof path, "bad.png");
    CHECK(clvae_png_write(path, &bad, &err) == CLVAE_ERR_INVALID, "4 channels written");
    bad = img;
    bad.px = NULL;
    CHECK(clvae_png_write(path, &bad, &err) == CLVAE_ERR_INVALID, "no pixels written");
    CHECK(access(path, F_OK) != 0, "%s exists", path);
    rmdir(sub);
    unlink(file);
    clvae_image_free(&img);
}

static void t_png_write_disk_full(void)
{
    /* A file-size limit makes write() fail part way (EFBIG), as a full disk would. */
    clvae_error_t err = {0};
    clvae_image_t old, big, back;
    REQUIRE(make_pattern(&old, 16, 16, 3, 4) == 0, "no memory");
    REQUIRE(clvae_image_init(&big, 256, 256, 3, 0, &err) == CLVAE_OK, "%s", err.msg);
    uint32_t r = 12345;
    for (size_t i = 0; i < (size_t)256 * 256 * 3; i++) {
        r = r * 1664525u + 1013904223u;
        big.px[i] = (uint8_t)(r >> 24); /* noise: does not compress */
    }
    char path[512], names[1024];
    in_tmp(path, sizeof path, "full.png");
    REQUIRE(clvae_png_write(path, &old, &err) == CLVAE_OK, "%s", err.msg);

    struct rlimit saved, lim;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0, "getrlimit");
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 20000;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    clvae_status_t s = clvae_png_write(path, &big, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, prev);

    CHECK(s == CLVAE_ERR_IO, "write past the size limit gave %s", clvae_status_name(s));
    CHECK(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    int n = list_dir(tmpdir, names, sizeof names);
    CHECK(n == 1 && strcmp(names, "full.png") == 0, "folder holds [%s]", names);
    CHECK(clvae_png_read(path, &back, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(same_image(&old, &back), "the old file was changed by the failed write");
    clvae_image_free(&back);
    /* without the limit the same write works */
    CHECK(clvae_png_write(path, &big, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_png_read(path, &back, &err) == CLVAE_OK && same_image(&big, &back),
          "big round trip: %s", err.msg);
    clvae_image_free(&back);
    clvae_image_free(&old);
    clvae_image_free(&big);
    unlink(path);
}

/* Writes a PNG with libpng directly, in formats clvae does not write. */
static int write_raw_png(const char *path, int w, int h, int depth, int color)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[2] = {{0, 0, 0}, {255, 255, 255}};
        png_set_PLTE(png, info, pal, 2);
    }
    png_write_info(png, info);
    static uint8_t row[20000 * 8];
    memset(row, 0x01, sizeof row); /* also a valid palette index */
    for (int y = 0; y < h; y++) png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

/* Writes img as an Adam7-interlaced PNG with libpng directly (clvae writes none). */
static int write_interlaced(const char *path, const clvae_image_t *img)
{
    png_bytep rows[64];
    if (img->h > 64) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (int y = 0; y < img->h; y++) rows[y] = img->px + (size_t)y * img->w * img->channels;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

/* Appends a chunk (length, type, data, CRC) at p; returns its size. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t len)
{
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    uint32_t crc = (uint32_t)crc32(0, p + 4, 4 + len);
    p[8 + len] = (uint8_t)(crc >> 24);
    p[9 + len] = (uint8_t)(crc >> 16);
    p[10 + len] = (uint8_t)(crc >> 8);
    p[11 + len] = (uint8_t)crc;
    return 12 + len;
}

static void expect_read(const char *name, clvae_status_t want)
{
    char path[512];
    in_tmp(path, sizeof path, name);
    clvae_error_t err = {0};
    clvae_image_t img;
    memset(&img, 0xCD, sizeof img);
    clvae_status_t s = clvae_png_read(path, &img, &err);
    CHECK(s == want, "%s: got %s, want %s (%s)", name, clvae_status_name(s),
          clvae_status_name(want), err.msg);
    CHECK(img.px == NULL && img.w == 0, "%s: image not left empty", name);
    CHECK(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", name,
          err.msg);
}

static void t_png_read_rejects(void)
{
    clvae_error_t err = {0};
    clvae_image_t img;
    REQUIRE(make_pattern(&img, 40, 30, 3, 5) == 0, "no memory");
    char good[512], path[512];
    in_tmp(good, sizeof good, "good.png");
    REQUIRE(clvae_png_write(good, &img, &err) == CLVAE_OK, "%s", err.msg);
    size_t n = 0;
    uint8_t *bytes = read_bytes(good, &n);
    REQUIRE(bytes && n > 100, "cannot read back %s", good);

    in_tmp(path, sizeof path, "half.png");
    write_bytes(path, bytes, n / 2);
    expect_read("half.png", CLVAE_ERR_CORRUPT);
    in_tmp(path, sizeof path, "no_end.png");
    write_bytes(path, bytes, n - 12); /* IEND missing */
    expect_read("no_end.png", CLVAE_ERR_CORRUPT);
    in_tmp(path, sizeof path, "sig_only.png");
    write_bytes(path, bytes, 5);
    expect_read("sig_only.png", CLVAE_ERR_CORRUPT);
    in_tmp(path, sizeof path, "header_only.png");
    write_bytes(path, bytes, 33); /* signature + IHDR */
    expect_read("header_only.png", CLVAE_ERR_CORRUPT);

    /* one flipped bit inside the image data: the chunk CRC no longer matches */
    uint8_t *flip = malloc(n);
    REQUIRE(flip, "no memory");
    memcpy(flip, bytes, n);
    flip[n / 2] ^= 0x10;
    in_tmp(path, sizeof path, "flipped.png");
    write_bytes(path, flip, n);
    expect_read("flipped.png", CLVAE_ERR_CORRUPT);
    free(flip);

    in_tmp(path, sizeof path, "text.png");
    write_bytes(path, "this is not a PNG file at all\n", 30);
    expect_read("text.png", CLVAE_ERR_INVALID);
    in_tmp(path, sizeof path, "empty.png");
    write_bytes(path, "", 0);
    expect_read("empty.png", CLVAE_ERR_INVALID);
    expect_read("missing.png", CLVAE_ERR_NOT_FOUND);

    /* formats we do not read */
    struct { const char *name; int w, h, depth, color; } kinds[] = {
        {"gray16.png", 4, 3, 16, PNG_COLOR_TYPE_GRAY},
        {"gray1.png", 9, 3, 1, PNG_COLOR_TYPE_GRAY},
        {"rgba.png", 4, 3, 8, PNG_COLOR_TYPE_RGB_ALPHA},
        {"gray_alpha.png", 4, 3, 8, PNG_COLOR_TYPE_GRAY_ALPHA},
        {"palette.png", 4, 3, 8, PNG_COLOR_TYPE_PALETTE},
        {"wide.png", 20000, 1, 8, PNG_COLOR_TYPE_GRAY},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        in_tmp(path, sizeof path, kinds[i].name);
        REQUIRE(write_raw_png(path, kinds[i].w, kinds[i].h, kinds[i].depth, kinds[i].color) == 0,
                "cannot write %s", path);
        expect_read(kinds[i].name, CLVAE_ERR_INVALID);
    }

    /* A 16000 x 16000 header with one tiny IDAT: refused before 256 MB are allocated. */
    uint8_t hostile[128];
    memcpy(hostile, bytes, 8);
    uint8_t ihdr[13] = {0, 0, 0x3e, 0x80, 0, 0, 0x3e, 0x80, 8, 0, 0, 0, 0};
    uint8_t idat[2] = {0x78, 0x9c};
    size_t len = 8;
    len += put_chunk(hostile + len, "IHDR", ihdr, 13);
    len += put_chunk(hostile + len, "IDAT", idat, 2);
    len += put_chunk(hostile + len, "IEND", NULL, 0);
    in_tmp(path, sizeof path, "bomb.png");
    write_bytes(path, hostile, len);
    expect_read("bomb.png", CLVAE_ERR_CORRUPT);

    /* a folder is not a PNG */
    in_tmp(path, sizeof path, "folder.png");
    REQUIRE(mkdir(path, 0755) == 0, "mkdir %s", path);
    expect_read("folder.png", CLVAE_ERR_IO);
    rmdir(path);

    /* interlaced files are read too */
    in_tmp(path, sizeof path, "adam7.png");
    REQUIRE(write_interlaced(path, &img) == 0, "cannot write %s", path);
    clvae_image_t inter;
    CHECK(clvae_png_read(path, &inter, &err) == CLVAE_OK && same_image(&img, &inter),
          "interlaced read: %s", err.msg);
    clvae_image_free(&inter);
    unlink(path);

    /* the good file still reads */
    clvae_image_t back;
    CHECK(clvae_png_read(good, &back, &err) == CLVAE_OK && same_image(&img, &back), "%s",
          err.msg);
    clvae_image_free(&back);
    free(bytes);
    clvae_image_free(&img);
    const char *made[] = {"good.png", "half.png", "no_end.png", "sig_only.png",
                          "header_only.png", "flipped.png", "text.png", "empty.png",
                          "bomb.png"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        in_tmp(path, sizeof path, made[i]);
        unlink(path);
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        in_tmp(path, sizeof path, kinds[i].name);
        unlink(path);
    }
}

static void t_grid_exact_gray(void)
{
    /* three 2x2 gray tiles, 2 columns, pad 1, zoom 2: an 11 x 11 image */
    const float nan = NAN, inf = INFINITY;
    const float imgs[3 * 4] = {
        0.0f, 1.0f, 0.5f, -1.0f,  /* tile 0 */
        2.0f, nan, 0.25f, 1.0f,   /* tile 1 */
        inf, -inf, 0.0f, 0.75f,   /* tile 2 */
    };
    enum { W = 255 };
    static const uint8_t want[11][11] = {
        {W, W, W, W, W, W, W, W, W, W, W},
        {W, 0, 0, W, W, W, W, W, 0, 0, W},
        {W, 0, 0, W, W, W, W, W, 0, 0, W},
        {W, 128, 128, 0, 0, W, 64, 64, W, W, W},
        {W, 128, 128, 0, 0, W, 64, 64, W, W, W},
        {W, W, W, W, W, W, W, W, W, W, W},
        {W, W, W, 0, 0, W, W, W, W, W, W},
        {W, W, W, 0, 0, W, W, W, W, W, W},
        {W, 0, 0, 191, 191, W, W, W, W, W, W},
        {W, 0, 0, 191, 191, W, W, W, W, W, W},
        {W, W, W, W, W, W, W, W, W, W, W},
    };
    clvae_error_t err = {0};
    clvae_image_t g;
    REQUIRE(clvae_image_grid(&g, imgs, 3, 1, 2, 2, 2, 1, 2, 255, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.w == 11 && g.h == 11 && g.channels == 1, "grid is %dx%dx%d", g.w, g.h, g.channels);
    if (g.w == 11 && g.h == 11) {
        for (int y = 0; y < 11; y++)
            for (int x = 0; x < 11; x++)
                CHECK(g.px[y * 11 + x] == want[y][x], "pixel (%d,%d) is %d, want %d", x, y,
                      g.px[y * 11 + x], want[y][x]);
    }
    clvae_image_free(&g);

    /* more columns than images: the grid is only as wide as the images */
    REQUIRE(clvae_image_grid(&g, imgs, 3, 1, 2, 2, 8, 1, 1, 0, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.w == 3 * 3 + 1 && g.h == 4, "3 tiles in 8 columns: %dx%d", g.w, g.h);
    CHECK(g.px[0] == 0 && g.px[1 * g.w + 1] == 0 && g.px[1 * g.w + 2] == 255 &&
              g.px[1 * g.w + 4] == 255 && g.px[1 * g.w + 5] == 0,
          "pad 1 zoom 1 row is wrong");
    clvae_image_free(&g);
}

static void t_grid_rgb_chw(void)
{
    /* two RGB tiles of 3 wide x 2 high, CHW planes; value = code / 255 so bytes are exact */
    enum { C = 3, IH = 2, IW = 3, N = 2 };
    float imgs[N * C * IH * IW];
    for (int k = 0; k < N; k++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < IH; y++)
                for (int x = 0; x < IW; x++) {
                    int code = 10 + 100 * k + 30 * c + 5 * y + x; /* <= 183 */
                    imgs[((k * C + c) * IH + y) * IW + x] = (float)code / 255.0f;
                }
    clvae_error_t err = {0};
    clvae_image_t g;
    /* one column, pad 2, zoom 3, black background */
    REQUIRE(clvae_image_grid(&g, imgs, N, C, IH, IW, 1, 2, 3, 0, &err) == CLVAE_OK, "%s",
            err.msg);
    REQUIRE(g.w == 3 * 3 + 4 && g.h == 2 * (6 + 2) + 2 && g.channels == 3, "grid %dx%dx%d", g.w,
            g.h, g.channels);
    int bad = 0;
    for (int py = 0; py < g.h; py++)
        for (int px = 0; px < g.w; px++)
            for (int c = 0; c < 3; c++) {
                int want = 0;
                int tx = px - 2, ty = py - 2;
                int k = ty / 8, iy = (ty % 8) / 3, ix = tx / 3;
                if (tx >= 0 && tx < 9 && ty >= 0 && ty % 8 < 6 && k < N)
                    want = 10 + 100 * k + 30 * c + 5 * iy + ix;
                int got = g.px[((size_t)py * g.w + px) * 3 + c];
                if (got != want && bad++ < 5)
                    CHECK(0, "pixel (%d,%d) channel %d is %d, want %d", px, py, c, got, want);
            }
    /* hand-picked: tile 1, channel 2 (blue), pixel (x 2, y 1) is at rows 10+3..15, columns 8..10 */
    CHECK(g.px[((size_t)13 * g.w + 8) * 3 + 2] == 10 + 100 + 60 + 5 + 2, "blue of tile 1 (2,1)");
    CHECK(g.px[((size_t)2 * g.w + 2) * 3 + 0] == 10, "red of tile 0 (0,0)");
    CHECK(g.px[((size_t)1 * g.w + 2) * 3 + 0] == 0, "pad row is not background");
    clvae_image_free(&g);
}

static void t_grid_invalid(void)
{
    float px[16] = {0};
    clvae_error_t err = {0};
    clvae_image_t g;
    struct { const float *imgs; size_t n; int c, ih, iw, cols, pad, zoom; } bad[] = {
        {px, 0, 1, 2, 2, 1, 0, 1},     {NULL, 1, 1, 2, 2, 1, 0, 1}, {px, 1, 2, 2, 2, 1, 0, 1},
        {px, 1, 1, 0, 2, 1, 0, 1},     {px, 1, 1, 2, -2, 1, 0, 1},  {px, 1, 1, 2, 2, 0, 0, 1},
        {px, 1, 1, 2, 2, 1, -1, 1},    {px, 1, 1, 2, 2, 1, 0, 0},   {px, 1, 1, 2, 2, 1, 0, 9000},
        {px, 100000, 1, 28, 28, 1, 2, 1}, /* 100000 rows of tiles: far over 16384 pixels */
        {px, (size_t)-1, 1, 2, 2, 1, 0, 1},
        {px, 1, 1, 20000, 1, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&g, 0xEE, sizeof g);
        clvae_status_t s = clvae_image_grid(&g, bad[i].imgs, bad[i].n, bad[i].c, bad[i].ih,
                                            bad[i].iw, bad[i].cols, bad[i].pad, bad[i].zoom, 255,
                                            &err);
        CHECK(s == CLVAE_ERR_INVALID, "case %zu: %s", i, clvae_status_name(s));
        CHECK(g.px == NULL, "case %zu: output not zeroed", i);
        CHECK(strstr(err.msg, "grid") != NULL, "case %zu: message %s", i, err.msg);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clvae_test_image_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(t_init_and_free);
    RUN(t_png_round_trip);
    RUN(t_png_write_unwritable);
    RUN(t_png_write_disk_full);
    RUN(t_png_read_rejects);
    RUN(t_grid_exact_gray);
    RUN(t_grid_rgb_chw);
    RUN(t_grid_invalid);
    char names[1024];
    if (list_dir(tmpdir, names, sizeof names) != 0) {
        fprintf(stderr, "left in %s: %s\n", tmpdir, names);
        test_failures++;
    }
    rmdir(tmpdir);
    return TEST_EXIT();
}
