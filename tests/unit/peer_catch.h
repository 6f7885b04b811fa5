/* tests/unit/peer_catch.h -- for unit tests of replies without sockets:
 * a subdomain service peer.test keeps a copy of every stanza routed to
 * it, so a reply's addresses and payload can be checked.  Include after
 * cmocka.h and the core headers base/owner.h, xmpp/services.h and
 * xmpp/stanza.h; use setup/teardown as the tests' fixtures. */
#ifndef EMBER_TEST_PEER_CATCH_H
#define EMBER_TEST_PEER_CATCH_H

static ember__owner_t owner_peer = { "peer", NULL, "peer" };
#define MOD_PEER ((ember_module_t *) (void *) &owner_peer)

/* What peer.test received, oldest first. */
static ember_stanza_t *caught[8];
static size_t ncaught;


static int
catch_cb(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    assert_true(ncaught < sizeof(caught) / sizeof(*caught));
    caught[ncaught++] = ember__stanza_copy(ev->stanza);
    return EMBER_HOOK_HANDLED;
}


static void
caught_clear(void)
{
    while (ncaught > 0)
        ember__stanza_free(caught[--ncaught]);
}


static int
setup(void **state)
{
    (void) state;
    return ember__service_add(MOD_PEER, "peer.test", catch_cb, NULL);
}


static int
teardown(void **state)
{
    (void) state;
    caught_clear();
    ember__services_module_gone(MOD_PEER);
    return 0;
}

#endif
