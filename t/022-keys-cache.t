# A worker remembers the keys it let in while nothing has been written to
# the store (src/ngx_http_apim_lookup.c).  With a plan without limits no
# count is ever flushed, so the same key is answered from memory; these
# blocks check that what apimctl changes in between (a key revoked, a
# consumer deleted, a key imported again) and a key's expiry are still
# seen on the very next request.
#
#   prove -I t/lib t/022-keys-cache.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Sections;

use File::Path qw(remove_tree);
use POSIX ();

our $Store = server_root() . '.store-cache';
our %Id;


sub rfc3339 {
    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(shift));
}


# "--- after_response": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response));


remove_tree($Store);

apimctl(qw(consumer add carol --plan open));
apimctl(qw(consumer add dave --plan open));

$Id{'cache-key-0001'} = apimctl(qw(key import --consumer carol
                                   cache-key-0001));
$Id{'cache-key-0002'} = apimctl(qw(key import --consumer dave
                                   cache-key-0002));

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-cache;
    apim_plan open;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: a key answered from memory is refused on the request after its revocation, and accepted again once imported again
--- config
    location = /k {
        apim_key;
        add_header X-Consumer $apim_consumer always;
        add_header X-Status $apim_status always;
        empty_gif;
    }
--- request eval
["GET /k", "GET /k", "GET /k", "GET /k", "GET /k"]
--- more_headers
X-API-Key: cache-key-0001
--- after_response eval
{
    2 => sub { main::apimctl('key', 'revoke', $main::Id{'cache-key-0001'}) },
    3 => sub { main::apimctl(qw(key import --consumer carol cache-key-0001)) },
}
--- error_code eval
[200, 200, 200, 401, 200]
--- response_headers eval
["X-Consumer: carol", "X-Consumer: carol", "X-Consumer: carol",
 "X-Status: BAD_KEY", "X-Consumer: carol"]
--- no_error_log
[error]
[alert]



=== TEST 2: deleting the consumer of a remembered key is seen on the next request
--- config
    location = /k {
        apim_key;
        add_header X-Status $apim_status always;
        empty_gif;
    }
--- request eval
["GET /k", "GET /k", "GET /k"]
--- more_headers
X-API-Key: cache-key-0002
--- after_response eval
{ 1 => sub { main::apimctl(qw(consumer delete dave)) } }
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Status: PASSED", "X-Status: PASSED", "X-Status: BAD_KEY"]
--- no_error_log
[error]
[alert]



=== TEST 3: a remembered key that expires is refused as expired, with nothing written in between
--- config
    location = /k {
        apim_key;
        add_header X-Status $apim_status always;
        empty_gif;
    }
--- request eval
["GET /k", "GET /k", "GET /k"]
--- more_headers
X-API-Key: cache-key-0003
--- after_response eval
{ 1 => sub { sleep 1 while time <= $main::Expires } }
--- init
$main::Expires = time + 2;
main::apimctl('key', 'import', '--consumer', 'carol',
              '--expires', main::rfc3339($main::Expires), 'cache-key-0003');
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Status: PASSED", "X-Status: PASSED", "X-Status: EXPIRED"]
--- no_error_log
[error]
[alert]
