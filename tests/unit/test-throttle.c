/* Unit tests: the login throttle (core/store/throttle.c) against a flood.
 * The console's old table reset after 10,000 addresses: 8,500 failures
 * from 1,700 addresses, then 30 wrong guesses and the right password got
 * through.  Here no flood of addresses, of any size, clears the record of
 * a key that failed more often than the flooding keys did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <ember/plugin.h>

#include "base/log.h"
#include "store/throttle.h"

static const ember_throttle_limits_t limits = { 5, 10, 300 };


static void
fail_n(const char *addr, const char *account, int n)
{
    while (n-- > 0)
        ember__throttle_failed(addr, account, "test");
}


static void
flood(int addresses, int failures_each, const char *account_fmt)
{
    char addr[64], account[64];
    int i;

    for (i = 0; i < addresses; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        snprintf(account, sizeof(account), account_fmt, i);
        fail_n(addr, account, failures_each);
    }
}


static int
setup(void **state)
{
    (void) state;
    ember__log_open(EMBER_LOG_ERROR, NULL);
    ember__throttle_set_limits(&limits);
    ember__throttle_reset();
    return 0;
}


static void
test_free_failures_then_delay(void **state)
{
    (void) state;
    fail_n("192.0.2.1", "alice@example.org", 5);
    assert_int_equal(ember__throttle_wait("192.0.2.1", "alice@example.org"),
                     0);
    fail_n("192.0.2.1", "alice@example.org", 1);
    assert_true(ember__throttle_wait("192.0.2.1", NULL) >= 1);
    /* A neighbour on the same /24 is not yet held back, nor another
     * account from elsewhere. */
    assert_int_equal(ember__throttle_wait("192.0.2.2", "bob@example.org"), 0);
    fail_n("192.0.2.1", "alice@example.org", 10);
    assert_int_equal(ember__throttle_wait("192.0.2.1", NULL), 300);
}


static void
test_network_and_account_keys(void **state)
{
    char addr[32];
    int i;

    (void) state;
    /* One failure each from 21 addresses of one /24: the network waits. */
    for (i = 1; i <= 21; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d", i);
        fail_n(addr, NULL, 1);
    }
    assert_true(ember__throttle_wait("198.51.100.200", NULL) > 0);
    /* IPv6: the /64 is the network. */
    for (i = 1; i <= 21; i++) {
        snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i);
        fail_n(addr, NULL, 1);
    }
    assert_true(ember__throttle_wait("2001:db8:1:2:ffff::1", NULL) > 0);
    assert_int_equal(ember__throttle_wait("2001:db8:1:3::1", NULL), 0);
    /* Eleven guesses at one account from eleven networks. */
    for (i = 0; i < 11; i++) {
        snprintf(addr, sizeof(addr), "203.0.%d.1", i);
        fail_n(addr, "carol@example.org", 1);
    }
    assert_true(ember__throttle_wait("203.0.99.1", "carol@example.org") > 0);
    ember__throttle_succeeded("carol@example.org");
    assert_int_equal(ember__throttle_wait("203.0.99.1", "carol@example.org"),
                     0);
}


static void
test_flood_keeps_heavy_records(void **state)
{
    (void) state;
    fail_n("192.0.2.66", "victim@example.org", 30);
    /* The flood, then one forty times the table's size. */
    flood(1700, 5, "user%d@example.org");
    flood(1 << 20, 1, "spray%d@example.org");
    /* The flood itself takes a second or two of the 300 s. */
    assert_true(ember__throttle_wait("192.0.2.66", NULL) > 290);
    assert_true(ember__throttle_wait("198.18.0.1", "victim@example.org")
                > 290);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_free_failures_then_delay, setup),
        cmocka_unit_test_setup(test_network_and_account_keys, setup),
        cmocka_unit_test_setup(test_flood_keeps_heavy_records, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
