// Thin shim over ncursesw: only what Swift cannot import (macros, C globals).
#ifndef CAPDECK_CNCURSESW_SHIM_H
#define CAPDECK_CNCURSESW_SHIM_H

// Why: wide-character functions (mvaddwstr, setcchar, mvadd_wch) are only declared with
// these defined, and SwiftPM drops pkg-config -D flags, so they live here.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#define NCURSES_WIDECHAR 1
#include <ncursesw/curses.h>

// Why: stdscr, LINES and COLS are mutable C globals, which Swift 6 rejects as unsafe.
static inline WINDOW *CNcursesW_stdscr(void) { return stdscr; }
static inline int CNcursesW_lines(void) { return LINES; }
static inline int CNcursesW_cols(void) { return COLS; }
// Why: getmaxyx and A_* attributes are macros.
static inline int CNcursesW_maxY(WINDOW *w) { return getmaxy(w); }
static inline int CNcursesW_maxX(WINDOW *w) { return getmaxx(w); }
static inline attr_t CNcursesW_bold(void) { return A_BOLD; }
static inline attr_t CNcursesW_dim(void) { return A_DIM; }
static inline attr_t CNcursesW_reverse(void) { return A_REVERSE; }
static inline chtype CNcursesW_colorPair(short n) { return COLOR_PAIR(n); }
// Why: initscr() prints "Error opening terminal" and exits on an unknown TERM; newterm() returns
// NULL instead. stdin/stdout are C globals Swift 6 rejects.
static inline SCREEN *CNcursesW_newterm(const char *type) { return newterm(type, stdout, stdin); }
// Why: curscr is a C global. clearok(curscr) makes the next refresh repaint every cell.
static inline void CNcursesW_clearAll(void) { clearok(curscr, TRUE); }

#endif
