// Debian's hiredis (libhiredis-dev): Parley uses only its RESP reader and its command formatter; SwiftNIO does the I/O.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
