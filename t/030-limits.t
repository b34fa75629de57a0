# Rate limits and quotas (issue 3): GCRA rate with burst, quotas in
# calendar and rolling windows, 429 with Retry-After and an RFC 9457 body
# naming the violated policy, the RateLimit-Policy/RateLimit headers and
# the legacy X-RateLimit-* ones; and every configuration mistake nginx -t
# must catch (apim_plan, apim_key, apim_api, apim_headers, apim_fail,
# apim_secret), with its exact message.
#
# Each block that counts uses keys of its own: counts are kept in the store,
# which outlives the restarts of nginx between blocks.  Windows are short
# (1-3 s); a block that needs to start at the beginning of a calendar window
# waits for it in --- init, and a request that needs a later window is sent
# in two packets, the second after a pause (delay_before), so that nginx
# reads it only then.
#
#   prove -I t/lib t/030-limits.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl qw(:DEFAULT %Id consumer);

use File::Path qw(remove_tree);
use Time::HiRes ();

our $Store = server_root() . '.store-limits';
our %Id;

# sleeps until just after the start of the next calendar window of
# $period seconds (windows are aligned on the epoch)

sub align {
    my ($period) = @_;

    my $now = Time::HiRes::time();
    my $next = (int($now / $period) + 1) * $period + 0.05;

    Time::HiRes::sleep($next - $now);
}

# the RFC 9457 body of a 429; when $secs is a pattern ("[12]"), a pattern
# of the body

sub too_many {
    my ($policy, $plan, $secs, $instance) = @_;

    my $detail = $policy eq 'rate'
        ? qq(The rate limit of plan \\"$plan\\" is exceeded; retry in SECS s.)
        : qq(The quota of plan \\"$plan\\" is used up; it is restored in SECS s.);

    my $body = '{"type":"https://iana.org/assignments/http-problem-types'
               . '#quota-exceeded","title":"Too Many Requests","status":429,'
               . qq("detail":"$detail","instance":"$instance",)
               . qq("violated-policies":["$policy"]}\n);

    return $body =~ s/SECS/$secs/r if $secs =~ /^\d+$/;

    my ($head, $tail) = split /SECS/, $body;

    return qr/^\Q$head\E$secs\Q$tail\E\z/;
}

# the line nginx -t logs for a configuration mistake

sub emerg {
    my ($msg) = @_;

    return qr/\[emerg\] \d+#\d+: \Q$msg\E in \S+\/nginx\.conf:\d+$/;
}

remove_tree($Store);

consumer('c-rate', 'rate2', 'rate-key-0001', 'rate-key-0002', 'rate-key-0003');
consumer('c-burst', 'burst2', 'burst-key-0001');
consumer('c-quota', 'quota3', 'quota-key-0001');
consumer('c-rateq', 'rateq', 'rateq-key-0001');
consumer('c-std', 'std', 'std-key-0001', 'std-key-0002', 'std-key-0003');
consumer('c-tight', 'tight', 'tight-key-0001', 'tight-key-0002');
consumer('c-minute', 'minute', 'minute-key-0001');
consumer('c-rolling', 'rolling', 'rolling-key-0001');
consumer('c-redirect', 'tight', 'redirect-key-0001');
consumer('c-wide', 'wide', 'wide-key-0001');
consumer('c-denied', 'tight', 'denied-key-0001');

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-limits;
    apim_plan rate2 rate=2r/s;
    apim_plan burst2 rate=1r/s burst=2;
    apim_plan quota3 quota=3/2s;
    apim_plan rateq rate=1r/s quota=5/day quota_window=rolling;
    apim_plan std rate=10r/s burst=9 quota=100/day;
    apim_plan tight rate=10r/s burst=9 quota=5/day quota_window=rolling;
    apim_plan minute rate=60r/m;
    apim_plan rolling quota=2/3s quota_window=rolling;
    apim_plan wide rate=1r/s burst=20;
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

=== TEST 1: rate=2r/s: a second request at once is refused, Retry-After: 1
--- config
    location = /t {
        apim_key;
        apim_api orders;
        add_header X-Apim "$apim_status;$apim_quota_remaining" always;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers
X-API-Key: rate-key-0001
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Policy: \"rate\";q=2;w=1\nRateLimit: \"rate\";r=0;t=1\nRetry-After:\nX-Apim: PASSED;",
 "RateLimit-Policy: \"rate\";q=2;w=1\nRateLimit: \"rate\";r=0;t=1\nRetry-After: 1\nContent-Type: application/problem+json\nX-Apim: RATE_LIMITED;"]
--- response_body eval
[qr/^GIF89a/,
 main::too_many('rate', 'rate2', 1, '/t')]
--- no_error_log
[error]
[alert]



=== TEST 2: rate=2r/s: the next request passes once the interval is over
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", ["GE", {value => "T /t", delay_before => 0.6}]]
--- more_headers
X-API-Key: rate-key-0002
--- error_code eval
[200, 429, 200]
--- timeout: 5
--- no_error_log
[error]
[alert]



=== TEST 3: rate=1r/s burst=2: three requests at once pass, the fourth is refused
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers
X-API-Key: burst-key-0001
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"rate\";q=1;w=1\nRateLimit: \"rate\";r=1;t=1",
 "RateLimit-Policy: \"rate\";q=1;w=1\nRateLimit: \"rate\";r=1;t=2",
 "RateLimit-Policy: \"rate\";q=1;w=1\nRateLimit: \"rate\";r=0;t=3",
 "RateLimit-Policy: \"rate\";q=1;w=1\nRateLimit: \"rate\";r=0;t=3\nRetry-After: 1"]
--- response_body eval
[qr/^GIF89a/, qr/^GIF89a/, qr/^GIF89a/,
 main::too_many('rate', 'burst2', 1, '/t')]
--- no_error_log
[error]
[alert]



=== TEST 4: quota=3/2s: three pass, the fourth is refused, the next window passes
--- init
main::align(2);
--- config
    location = /t {
        apim_key;
        add_header X-Apim "$apim_status;$apim_quota_remaining" always;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t",
 ["GE", {value => "T /t", delay_before => 2}]]
--- more_headers
X-API-Key: quota-key-0001
--- timeout: 6
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers_like eval
["RateLimit-Policy: \"quota\";q=3;w=2\nRateLimit: \"quota\";r=2;t=[12]\nX-Apim: PASSED;2",
 "RateLimit-Policy: \"quota\";q=3;w=2\nRateLimit: \"quota\";r=1;t=[12]\nX-Apim: PASSED;1",
 "RateLimit-Policy: \"quota\";q=3;w=2\nRateLimit: \"quota\";r=0;t=[12]\nX-Apim: PASSED;0",
 "RateLimit-Policy: \"quota\";q=3;w=2\nRateLimit: \"quota\";r=0;t=[12]\nRetry-After: [12]\nContent-Type: application/problem\\+json\nX-Apim: QUOTA_EXCEEDED;0",
 "RateLimit-Policy: \"quota\";q=3;w=2\nRateLimit: \"quota\";r=2;t=[12]\nX-Apim: PASSED;2"]
--- response_body eval
[qr/^GIF89a/, qr/^GIF89a/, qr/^GIF89a/,
 main::too_many('quota', 'quota3', '[12]', '/t'),
 qr/^GIF89a/]
--- no_error_log
[error]
[alert]



=== TEST 5: requests refused by the rate consume no quota
--- config
    location = /t {
        apim_key;
        add_header X-Apim "$apim_status;$apim_quota_remaining" always;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t",
 ["GE", {value => "T /t", delay_before => 1.1}]]
--- more_headers
X-API-Key: rateq-key-0001
--- timeout: 5
--- error_code eval
[200, 429, 429, 429, 200]
--- response_headers eval
["X-Apim: PASSED;4", "X-Apim: RATE_LIMITED;4", "X-Apim: RATE_LIMITED;4",
 "X-Apim: RATE_LIMITED;4", "X-Apim: PASSED;3"]
--- no_error_log
[error]
[alert]



=== TEST 6: RateLimit-Policy names every policy; RateLimit the one with least left
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: std-key-0001", "X-API-Key: tight-key-0001"]
--- error_code eval
[200, 200]
--- response_headers eval
["RateLimit-Policy: \"rate\";q=10;w=1, \"quota\";q=100;w=86400\nRateLimit: \"rate\";r=9;t=1",
 "RateLimit-Policy: \"rate\";q=10;w=1, \"quota\";q=5;w=86400\nRateLimit: \"quota\";r=4;t=86400"]
--- no_error_log
[error]
[alert]



=== TEST 7: rate=60r/m: the policy's window is 60 s
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers
X-API-Key: minute-key-0001
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Policy: \"rate\";q=60;w=60\nRateLimit: \"rate\";r=0;t=1",
 "RateLimit-Policy: \"rate\";q=60;w=60\nRateLimit: \"rate\";r=0;t=1\nRetry-After: 1"]
--- no_error_log
[error]
[alert]



=== TEST 8: apim_headers legacy: X-RateLimit-Limit, -Remaining, -Reset
--- config
    location = /t {
        apim_key;
        apim_headers legacy;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: std-key-0002", "X-API-Key: tight-key-0002"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-RateLimit-Limit: 10\nX-RateLimit-Remaining: 9\nX-RateLimit-Reset: 1\nRateLimit-Policy:\nRateLimit:",
 "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 4\nX-RateLimit-Reset: 86400\nRateLimit-Policy:\nRateLimit:"]
--- no_error_log
[error]
[alert]



=== TEST 9: apim_headers off: no rate-limit headers, but Retry-After on a 429
--- config
    location = /t {
        apim_key;
        apim_headers off;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: std-key-0003", "X-API-Key: rate-key-0003", "X-API-Key: rate-key-0003"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Policy:\nRateLimit:\nX-RateLimit-Limit:\nX-RateLimit-Remaining:\nX-RateLimit-Reset:",
 "RateLimit-Policy:\nRateLimit:\nX-RateLimit-Limit:\nX-RateLimit-Remaining:\nX-RateLimit-Reset:",
 "RateLimit-Policy:\nRateLimit:\nX-RateLimit-Limit:\nX-RateLimit-Remaining:\nX-RateLimit-Reset:\nRetry-After: 1"]
--- response_body eval
[qr/^GIF89a/, qr/^GIF89a/, main::too_many('rate', 'rate2', 1, '/t')]
--- no_error_log
[error]
[alert]



=== TEST 10: quota_window=rolling: the window starts with the first request
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /t", "GET /t", "GET /t",
 ["GE", {value => "T /t", delay_before => 3.1}],
 "GET /t"]
--- more_headers
X-API-Key: rolling-key-0001
--- timeout: 8
--- error_code eval
[200, 200, 429, 200, 200]
--- response_headers_like eval
["RateLimit-Policy: \"quota\";q=2;w=3\nRateLimit: \"quota\";r=1;t=3",
 "RateLimit: \"quota\";r=0;t=[23]",
 "RateLimit: \"quota\";r=0;t=[23]\nRetry-After: [23]",
 "RateLimit: \"quota\";r=1;t=3",
 "RateLimit: \"quota\";r=0;t=[23]"]
--- no_error_log
[error]
[alert]



=== TEST 11: an internal redirect is counted once
--- config
    location /idx/ {
        apim_key;
        index index.html;
    }
--- user_files
>>> idx/index.html
hello
--- request eval
["GET /idx/", "GET /idx/"]
--- more_headers
X-API-Key: redirect-key-0001
--- error_code eval
[200, 200]
--- response_headers_like eval
["RateLimit: \"quota\";r=4;t=86400", "RateLimit: \"quota\";r=3;t=(86400|86399)"]
--- response_body eval
["hello\n", "hello\n"]
--- no_error_log
[error]
[alert]



=== TEST 12: a request deny refuses after the key was checked consumes no quota
--- config
    # deny logs "access forbidden by rule" at [error]
    location = /denied {
        deny all;
        apim_key;
        empty_gif;
    }
    location = /t {
        apim_key;
        empty_gif;
    }
--- request eval
["GET /denied", "GET /denied", "GET /t"]
--- more_headers
X-API-Key: denied-key-0001
--- error_code eval
[403, 403, 200]
--- response_headers_like eval
["", "", "RateLimit: \"quota\";r=4;t=\\d+"]
--- no_error_log
[alert]



=== TEST 13: the remaining never exceeds the policy's quota (burst > rate)
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- request
GET /t
--- more_headers
X-API-Key: wide-key-0001
--- error_code: 200
--- response_headers_like
RateLimit-Policy: "rate";q=1;w=1
RateLimit: "rate";r=[01];t=1
--- no_error_log
[error]
[alert]



=== TEST 14: apim_plan: a rate not in r/s or r/m
--- http_config
    apim_plan p rate=10r/h;
--- config
--- must_die
--- error_log eval
main::emerg('invalid rate "rate=10r/h", it must look like "10r/s" or "100r/m"')



=== TEST 15: apim_plan: rate=0r/s
--- http_config
    apim_plan p rate=0r/s;
--- config
--- must_die
--- error_log eval
main::emerg('invalid rate "rate=0r/s", it must look like "10r/s" or "100r/m"')



=== TEST 16: apim_plan: a rate that is no number
--- http_config
    apim_plan p rate=r/s;
--- config
--- must_die
--- error_log eval
main::emerg('invalid rate "rate=r/s", it must look like "10r/s" or "100r/m"')



=== TEST 17: apim_plan: a bad burst
--- http_config
    apim_plan p rate=1r/s burst=-1;
--- config
--- must_die
--- error_log eval
main::emerg('invalid burst "burst=-1"')



=== TEST 18: apim_plan: burst= without rate=
--- http_config
    apim_plan p burst=5 quota=10/day;
--- config
--- must_die
--- error_log eval
main::emerg('plan "p" has burst= without rate=')



=== TEST 19: apim_plan: a quota without a period
--- http_config
    apim_plan p quota=10;
--- config
--- must_die
--- error_log eval
main::emerg('invalid quota "quota=10", it must look like "1000/day" or "5/30s"')



=== TEST 20: apim_plan: quota=0/day
--- http_config
    apim_plan p quota=0/day;
--- config
--- must_die
--- error_log eval
main::emerg('invalid quota "quota=0/day", it must look like "1000/day" or "5/30s"')



=== TEST 21: apim_plan: a quota period that is no period
--- http_config
    apim_plan p quota=10/fortnight;
--- config
--- must_die
--- error_log eval
main::emerg('invalid quota "quota=10/fortnight", it must look like "1000/day" or "5/30s"')



=== TEST 22: apim_plan: quota_window=weird
--- http_config
    apim_plan p quota=10/day quota_window=weird;
--- config
--- must_die
--- error_log eval
main::emerg('invalid quota_window "quota_window=weird", it must be "calendar" or "rolling"')



=== TEST 23: apim_plan: quota_window= without quota=
--- http_config
    apim_plan p rate=1r/s quota_window=rolling;
--- config
--- must_die
--- error_log eval
main::emerg('plan "p" has quota_window= without quota=')



=== TEST 24: apim_plan: a plan defined twice
--- http_config
    apim_plan gold rate=1r/s;
    apim_plan gold quota=1/day;
--- config
--- must_die
--- error_log eval
main::emerg('duplicate plan "gold"')



=== TEST 25: apim_plan: a bad plan name
--- http_config
    apim_plan "gold plan" rate=1r/s;
--- config
--- must_die
--- error_log eval
main::emerg('invalid plan name "gold plan": use 1 to 64 of A-Z a-z 0-9 . _ -')



=== TEST 26: apim_plan: an empty API name in apis=
--- http_config
    apim_plan p apis=orders,,billing;
--- config
--- must_die
--- error_log eval
main::emerg('invalid API name in "apis=orders,,billing"')



=== TEST 27: apim_plan: apis= with no API
--- http_config
    apim_plan p apis=;
--- config
--- must_die
--- error_log eval
main::emerg('invalid API name in "apis="')



=== TEST 28: apim_plan: an unknown parameter
--- http_config
    apim_plan p rate=1r/s nodelay;
--- config
--- must_die
--- error_log eval
main::emerg('invalid parameter "nodelay"')



=== TEST 29: apim_key: an unknown parameter
--- config
    location = /t {
        apim_key header=X-API-Key token=x;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid parameter "token=x"')



=== TEST 30: apim_key: hide=maybe
--- config
    location = /t {
        apim_key hide=maybe;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid parameter "hide=maybe", it must be "hide=on" or "hide=off"')



=== TEST 31: apim_key: header= without a name
--- config
    location = /t {
        apim_key header=;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid parameter "header=": the name is empty or too long')



=== TEST 32: apim_key: without apim_store
--- http_config
    apim_plan p rate=1r/s;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('"apim_key" directive needs "apim_store" before it in the http block')



=== TEST 33: apim_api: a bad API name
--- config
    location = /t {
        apim_key;
        apim_api "orders/v1";
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid API name "orders/v1": use 1 to 64 of A-Z a-z 0-9 . _ -')



=== TEST 34: apim_headers: a bad value
--- config
    location = /t {
        apim_key;
        apim_headers draft;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid value "draft"')



=== TEST 35: apim_fail: a bad value
--- config
    location = /t {
        apim_key;
        apim_fail maybe;
        empty_gif;
    }
--- must_die
--- error_log eval
main::emerg('invalid value "maybe"')



=== TEST 36: apim_secret: a missing file
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-limits;
    apim_secret $TEST_NGINX_SERVER_ROOT/html/missing.secret;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_secret "\S+\/html\/missing\.secret": cannot open "\S+\/html\/missing\.secret": No such file or directory in \S+\/nginx\.conf:\d+$/



=== TEST 37: apim_secret: a file too short to be a secret
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-limits;
    apim_secret $TEST_NGINX_SERVER_ROOT/html/short.secret;
--- user_files
>>> short.secret
0123456789abcde
--- config
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_secret "\S+\/html\/short\.secret": "\S+\/html\/short\.secret" is too short: a secret needs at least 16 bytes in \S+\/nginx\.conf:\d+$/



=== TEST 38: apim_secret: not the secret the store's keys were hashed with
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-limits;
    apim_secret $TEST_NGINX_SERVER_ROOT/html/other.secret;
--- user_files
>>> other.secret
0123456789abcdef0123456789abcdef
--- config
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_secret "\S+\/html\/other\.secret": the secret does not match the one the store's keys were hashed with in \S+\/nginx\.conf:\d+$/
