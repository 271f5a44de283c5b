#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

int ls_fail(char *err, const char *format, ...) {
    if (err) {
        va_list args;
        va_start(args, format);
        vsnprintf(err, LS_ERROR_SIZE, format, args);
        va_end(args);
    }
    return -1;
}
