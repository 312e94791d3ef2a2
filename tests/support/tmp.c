/* tmp.c - placeholder, replaced by the fixture library. */
#include "tsupport/fixture.h"
