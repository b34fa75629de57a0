# The usage endpoint (issue 4, self-service): a key holder sees their own
# consumer, plan, limits and what is left, without the call counting
# against them; no key, a bad key or a key of an unknown plan is refused
# with a problem body.
#
#   prove -I t/lib t/082-usage.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl qw(:DEFAULT %Id consumer);

use File::Path qw(remove_tree);
use POSIX ();

our $Store = server_root() . '.store-usage';
our %Id;

sub problem {
    my ($status, $title, $detail, $instance) = @_;

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}

# the usage body as a pattern: each policy is [name, limit, window, used,
# remaining, reset]; "used" and "remaining" may be patterns, a reset of
# undef any RFC 3339 time

sub usage {
    my ($key, $consumer, $plan, @policies) = @_;

    my $time = '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ';
    my @p;

    for my $p (@policies) {
        my ($name, $limit, $window, $used, $left, $reset) = @$p;

        $window = qq("$window") unless $window =~ /^\d+$/;

        push @p, quotemeta(qq({"name":"$name","limit":$limit,)
                           . qq("window":$window,"used":))
                 . (ref $used ? $used : quotemeta($used))
                 . quotemeta(',"remaining":')
                 . (ref $left ? $left : quotemeta($left))
                 . quotemeta(',"reset":"')
                 . (defined $reset ? quotemeta($reset) : $time)
                 . quotemeta('"}');
    }

    my $head = quotemeta(qq({"key_id":"$Id{$key}","consumer":"$consumer",)
                         . qq("plan":"$plan","policies":[));

    return qr/^$head${\ join(',', @p)}\]\}\n\z/;
}

# the next midnight UTC, RFC 3339

sub midnight {
    my $t = (int(time() / 86400) + 1) * 86400;

    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
}

remove_tree($Store);

consumer('acme', 'std', 'std-key-0001', 'std-key-0002');
consumer('bob', 'open', 'open-key-0001');
consumer('carol', 'roll', 'roll-key-0001', 'roll-key-0002');
consumer('dave', 'nosuch', 'nosuch-key-0001');
consumer('frank', 'once', 'once-key-0001');
consumer('erin', 'std');
$Id{'later-key-0001'} = apimctl('key', 'import', '--consumer', 'erin',
                                '--not-before', '2099-01-01T00:00:00Z',
                                'later-key-0001');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-usage;
    apim_plan std rate=10r/m burst=9 quota=100/day;
    apim_plan open;
    apim_plan roll quota=5/30s quota_window=rolling;
    apim_plan once quota=1/day;
_EOC_

our $Config = <<'_EOC_';
    location /t {
        apim_key;
        empty_gif;
    }

    location = /me {
        apim_usage;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', $Config) unless defined $block->config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: three calls, then the key's usage, twice: the usage calls count nothing
--- request eval
["GET /t", "GET /t", "GET /t", "GET /me", "GET /me"]
--- more_headers
X-API-Key: std-key-0001
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["", "", "", "Content-Type: application/json\nCache-Control: no-store\n!RateLimit",
 "Content-Type: application/json\nCache-Control: no-store\n!RateLimit"]
--- response_body eval
[qr/^GIF/, qr/^GIF/, qr/^GIF/,
 (main::usage('std-key-0001', 'acme', 'std',
              ['rate', 10, 60, 3, 7],
              ['quota', 100, 'day', 3, 97, main::midnight()])) x 2]
--- no_error_log
[error]
[alert]



=== TEST 2: a key never used: nothing used, all remaining
--- request
GET /me
--- more_headers
Authorization: Bearer std-key-0002
--- error_code: 200
--- response_body eval
main::usage('std-key-0002', 'acme', 'std',
            ['rate', 10, 60, 0, 10],
            ['quota', 100, 'day', 0, 100, main::midnight()])
--- no_error_log
[error]
[alert]



=== TEST 3: a plan without limits: no policies
--- request
GET /me
--- more_headers
X-API-Key: open-key-0001
--- error_code: 200
--- response_body eval
"{\"key_id\":\"$main::Id{'open-key-0001'}\",\"consumer\":\"bob\",\"plan\":\"open\",\"policies\":[]}\n"
--- no_error_log
[error]
[alert]



=== TEST 4: a rolling quota of a length: its window in seconds
--- request eval
["GET /t", "GET /me"]
--- more_headers
X-API-Key: roll-key-0001
--- error_code eval
[200, 200]
--- response_body eval
[qr/^GIF/,
 main::usage('roll-key-0001', 'carol', 'roll',
             ['quota', 5, 30, 1, 4])]
--- no_error_log
[error]
[alert]



=== TEST 5: a quota of one a day: three usage calls, and the one call still passes, then no more
--- request eval
["GET /me", "GET /me", "GET /me", "GET /t", "GET /t", "GET /me"]
--- more_headers
X-API-Key: once-key-0001
--- error_code eval
[200, 200, 200, 200, 429, 200]
--- response_body eval
[(main::usage('once-key-0001', 'frank', 'once',
              ['quota', 1, 'day', 0, 1, main::midnight()])) x 3,
 qr/^GIF/, qr/"status":429/,
 main::usage('once-key-0001', 'frank', 'once',
             ['quota', 1, 'day', 1, 0, main::midnight()])]
--- no_error_log
[error]
[alert]



=== TEST 6: no key: 401 with a problem body
--- request
GET /me
--- error_code: 401
--- response_headers
Content-Type: application/problem+json
WWW-Authenticate: ApiKey realm="api"
--- response_body eval
main::problem(401, 'Unauthorized', 'Send your API key to see its usage.', '/me')
--- no_error_log
[error]
[alert]



=== TEST 7: an unknown key: 401
--- request
GET /me
--- more_headers
X-API-Key: no-such-key-0001
--- error_code: 401
--- response_body eval
main::problem(401, 'Unauthorized', 'The API key is not valid.', '/me')
--- no_error_log
[error]
[alert]



=== TEST 8: a key that is not printable ASCII: 401
--- request
GET /me
--- more_headers eval
"X-API-Key: bad\x01key-0001"
--- error_code: 401
--- response_body eval
main::problem(401, 'Unauthorized', 'The API key is not valid.', '/me')
--- no_error_log
[error]
[alert]



=== TEST 9: a key not valid yet: 401
--- request
GET /me
--- more_headers
X-API-Key: later-key-0001
--- error_code: 401
--- response_body eval
main::problem(401, 'Unauthorized', 'The API key is not valid yet.', '/me')
--- no_error_log
[error]
[alert]



=== TEST 10: a key whose plan nginx.conf does not define: 403
--- request
GET /me
--- more_headers
X-API-Key: nosuch-key-0001
--- error_code: 403
--- response_body eval
main::problem(403, 'Forbidden', "The API key's plan is not offered here.",
              '/me')
--- no_error_log
[error]
[alert]



=== TEST 11: two different keys: 401
--- request
GET /me
--- more_headers
X-API-Key: std-key-0001
Authorization: Bearer open-key-0001
--- error_code: 401
--- response_body eval
main::problem(401, 'Unauthorized',
              'The request carries two different API keys.', '/me')
--- no_error_log
[error]
[alert]



=== TEST 12: POST: 405 with Allow
--- request
POST /me
{}
--- more_headers
X-API-Key: open-key-0001
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body eval
main::problem(405, 'Method Not Allowed', 'This endpoint answers GET and HEAD.',
              '/me')
--- no_error_log
[error]
[alert]



=== TEST 13: apim_key around it names where the key is read, and the usage call is still not counted
--- config
    apim_key query=key;

    location /t {
        empty_gif;
    }

    location = /me {
        add_header X-Log "$apim_consumer $apim_plan $apim_status" always;
        apim_usage;
    }
--- request eval
["GET /t?key=roll-key-0002", "GET /me?key=roll-key-0002",
 "GET /me?key=roll-key-0002"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "X-Log: carol roll PASSED\n!RateLimit", "X-Log: carol roll PASSED\n!RateLimit"]
--- response_body eval
[qr/^GIF/,
 (main::usage('roll-key-0002', 'carol', 'roll',
              ['quota', 5, 30, 1, 4])) x 2]
--- no_error_log
[error]
[alert]



=== TEST 14: nginx -t: apim_usage without apim_store
--- http_config
--- config
    location = /me { apim_usage; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "apim_usage" directive needs "apim_store" before it in the http block in \S+\/nginx\.conf:\d+$/
