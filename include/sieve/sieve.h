/* Everything a plugin needs: #include <sieve/sieve.h>. */
#ifndef SIEVE_SIEVE_H
#define SIEVE_SIEVE_H
#include "sieve/status.h"
#include "sieve/log.h"
#include "sieve/record.h"
#include "sieve/tensor.h"
#include "sieve/ring.h"
#include "sieve/pool.h"
#include "sieve/template.h"
#include "sieve/plugin.h"
#endif
