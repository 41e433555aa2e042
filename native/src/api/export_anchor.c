/* The shared library is libchela_core linked whole; this file only gives CMake a source for it. */
#include <chela/chela.h>
