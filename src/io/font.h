/* The built-in bitmap font (printable ASCII) shared by the plot code and its tests (not public). */
#ifndef CLVAE_FONT_INTERNAL_H
#define CLVAE_FONT_INTERNAL_H

#define CLVAE_FONT_FIRST 32   /* first character drawn: ' ' */
#define CLVAE_FONT_LAST 126   /* last character drawn: '~' */
#define CLVAE_FONT_W 5        /* glyph width in pixels */
#define CLVAE_FONT_H 8        /* glyph height: 7 rows above the baseline, 1 descender row */
#define CLVAE_FONT_ADVANCE 6  /* horizontal advance per character */
#define CLVAE_FONT_LINE 10    /* vertical advance per line */

/* Glyph rows, top to bottom, as 5 characters: '#' ink, '.' paper. */
extern const char clvae_font_glyphs[CLVAE_FONT_LAST - CLVAE_FONT_FIRST + 1][CLVAE_FONT_H]
                                   [CLVAE_FONT_W + 1];

/* 1 when pixel (col, row) of character ch's glyph is ink; characters outside 32..126 are
 * drawn as '?', and positions outside the glyph are paper. */
int clvae_font_pixel(int ch, int col, int row);

#endif
