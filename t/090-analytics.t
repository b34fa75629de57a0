# Analytics (issue 5): every request to an API is counted in shared memory
# (per API, consumer, plan, status class and minute), flushed to the
# store's analytics buckets by one worker, and answered by the analytics
# query.  The counts must match the requests sent exactly, whichever of
# two workers served them and across a restart; old buckets are removed;
# bad query parameters get 400 naming the parameter; configuration
# mistakes fail nginx -t.
#
# The counted locations listen on a port of their own with one socket per
# worker (reuseport); the test server proxies each request to it on a new
# connection, which the kernel gives to one worker or the other (as in
# t/012-store-workers.t).  That server also writes an access log of
# $request_length and $bytes_sent, against which the byte counts are
# checked.
#
# The blocks run in order: Test::Nginx restarts nginx between them, and the
# store, beside the server root, stays.
#
#   prove -I t/lib t/090-analytics.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Sections;

use File::Path qw(remove_tree);
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();

no_shuffle();
master_on();
workers(2);

our $Store = server_root() . '.store-analytics';
our $Start = time() - 60;
our ($NginxPid, %Expected);


sub nginx_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or return 0;
    my $pid = <$fh> // 0;
    chomp $pid;
    return $pid;
}

# one request on a new connection to the test server: (status, body)

sub get {
    my ($path, @headers) = @_;

    local $SIG{ALRM} = sub { die "GET $path: timed out\n" };
    alarm 10;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";

    print $sock "GET $path HTTP/1.0\r\nHost: localhost\r\n",
                map({ "$_\r\n" } @headers), "\r\n";

    local $/;
    my $resp = <$sock> // '';
    close $sock;

    alarm 0;

    my ($head, $body) = split /\r\n\r\n/, $resp, 2;

    return (($head // '') =~ m{^HTTP/1\.[01] (\d{3}) } ? $1 : 0, $body);
}

# the analytics answer to a query, decoded

sub analytics {
    my ($query) = @_;

    my ($status, $body) = get("/analytics?$query");

    die "GET /analytics?$query: $status $body" unless $status == 200;

    return JSON::PP::decode_json($body);
}

# the answer once it counts $n requests (the flush runs every 100 ms)

sub analytics_of {
    my ($query, $n) = @_;

    my $a;

    for (1 .. 50) {
        $a = analytics($query);
        last if $a->{totals}{requests} == $n;
        Time::HiRes::sleep(0.1);
    }

    return $a;
}

# analytics records written straight into the store, as nginx writes them
# (see src/ngx_apim_analytics_record.h), with mdb_load from lmdb-utils

sub inject {
    my @recs = @_;

    my $f = File::Temp->new;

    print $f "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";

    for my $r (@recs) {
        my ($g, $start, $api, $consumer, $plan, $class, $n) = @$r;

        my $key = pack('a Q> C/a* C/a* C/a* C', $g, $start, $api, $consumer,
                       $plan, $class);
        my $val = pack('a C q<*', 'A', 1, $n, 100 * $n, 200 * $n, 3 * $n,
                       $n, (0) x 10, (0) x 7);

        print $f ' ', unpack('H*', $key), "\n ", unpack('H*', $val), "\n";
    }

    print $f "DATA=END\n";
    close $f;

    system('mdb_load', '-s', 'analytics', '-f', $f->filename, $Store) == 0
        or die "mdb_load failed: $?";
}

# what the access log of the counted server says: bytes in and out, and
# the number of each status class and each $apim_status

sub access_log_counts {
    my %c = (bytes_in => 0, bytes_out => 0, requests => 0);

    open my $fh, '<', server_root() . '/logs/counts.log'
        or die "counts.log: $!";

    while (my $line = <$fh>) {
        my ($in, $out, $status, $apim) = split ' ', $line;

        $c{requests}++;
        $c{bytes_in} += $in;
        $c{bytes_out} += $out;
        $c{status}{ substr($status, 0, 1) . 'xx' }++;
        $c{rejections}{$apim}++ if $apim ne '-' && $apim ne 'PASSED';
    }

    return \%c;
}

# the exact body of a 400 for a bad query parameter

sub bad {
    my ($detail) = @_;

    $detail =~ s/"/\\"/g;

    return '{"type":"about:blank","title":"Bad Request","status":400,'
           . qq("detail":"$detail","instance":"/analytics"}\n);
}

sub emerg {
    my ($msg) = @_;

    return qr/\[emerg\] \d+#\d+: \Q$msg\E in \S+\/nginx\.conf:\d+$/;
}

# the checks of the counts in TEST 1 and TEST 2

sub check_counts {
    my ($a, $log, $extra) = @_;

    my $t = $a->{totals};

    Test::More::is($t->{requests}, 22 + $extra, 'requests');
    Test::More::is($t->{bytes_in}, $log->{bytes_in}, 'bytes in');
    Test::More::is($t->{bytes_out}, $log->{bytes_out}, 'bytes out');
    Test::More::is_deeply($t->{status},
                          { '1xx' => 0, '2xx' => 14 + $extra, '3xx' => 1,
                            '4xx' => 6, '5xx' => 1, 'other' => 0 },
                          'status classes');
    Test::More::is_deeply($t->{rejections},
                          { NO_KEY => 1, BAD_KEY => 1, EXPIRED => 1,
                            FORBIDDEN => 1, RATE_LIMITED => 1,
                            QUOTA_EXCEEDED => 1, STORE_ERROR => 0 },
                          'rejections by reason');
    Test::More::is($t->{errors}, 7, 'errors: 4xx and 5xx');
    Test::More::is($t->{latency_ms_buckets}{'+Inf'}, 22 + $extra,
                   'the latency histogram counts every request');

    my $sum = 0;
    $sum += $_->{requests} for @{ $a->{series} };
    Test::More::is($sum, 22 + $extra, 'the series add up to the totals');
}


remove_tree($Store);

apimctl(qw(consumer add acme --plan gold));
apimctl(qw(consumer add bob --plan tiny));
apimctl(qw(consumer add carl --plan slow));
apimctl(qw(consumer add dora --plan gold));
apimctl(qw(consumer add erin --plan gold));

apimctl(qw(key import --consumer acme acme-key-0001));
apimctl(qw(key import --consumer bob bob-key-00001));
apimctl(qw(key import --consumer carl carl-key-0001));
apimctl(qw(key import --consumer dora --expires 1s dora-key-0001));
apimctl(qw(key import --consumer erin --apis billing erin-key-0001));

{
    my $now = time();
    my $hour = $now - $now % 3600;

    inject(['h', $hour - 40 * 86400, 'old', 'acme', 'gold', 2, 5],
           ['m', $now - $now % 60 - 7200, 'old', 'acme', 'gold', 2, 6],
           ['h', $hour - 10 * 86400, 'kept', 'acme', 'gold', 2, 7]);
}

# the key of dora expires
Time::HiRes::sleep(1.1);

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics flush=100ms;
    apim_plan gold;
    apim_plan tiny quota=1/day quota_window=rolling;
    apim_plan slow rate=1r/m;

    log_format counts '$request_length $bytes_sent $status $apim_status';

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;

        access_log $TEST_NGINX_SERVER_ROOT/logs/counts.log counts;

        location = /k {
            apim_key;
            apim_api orders;
            ssi on;
            ssi_types text/plain;
            alias $TEST_NGINX_SERVER_ROOT/html/worker.txt;
        }

        location = /moved { apim_api orders; return 301 /k; }
        location = /broken { apim_api orders; return 503; }
        location = /free { apim_api search; empty_gif; }
    }
_EOC_

our $Config = <<'_EOC_';
    location /p/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /analytics { apim_analytics_api; }
_EOC_

our $UserFiles = <<'_EOC_';
>>> worker.txt
worker <!--# echo var="pid" -->
_EOC_


# "--- after_response", "--- workers_seen": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response workers_seen));

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;

    $block->set_value('user_files', $UserFiles)
        unless defined $block->user_files;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: counts match the requests sent, across two workers: passed, each rejection, bytes, status classes, APIs, consumers, plans
--- init
$main::NginxPid = main::nginx_pid();
--- request eval
[("GET /p/k") x 10, ("GET /p/k") x 2, ("GET /p/k") x 2, "GET /p/k",
 "GET /p/k", "GET /p/k", "GET /p/k", "GET /p/moved", "GET /p/broken",
 "GET /p/free", "GET /p/free"]
--- more_headers eval
[("X-API-Key: acme-key-0001") x 10, ("X-API-Key: bob-key-00001") x 2,
 ("X-API-Key: carl-key-0001") x 2, "X-API-Key: dora-key-0001",
 "X-API-Key: erin-key-0001", "X-API-Key: wrong-key-0001", "", "", "", "",
 ""]
--- error_code eval
[(200) x 10, 200, 429, 200, 429, 401, 403, 401, 401, 301, 503, 200, 200]
--- workers_seen: 2
--- after_response eval
{ 21 => sub {
    my $from = $main::Start;
    my $a = main::analytics_of("from=$from", 22);
    my $log = main::access_log_counts();

    Test::More::is($log->{requests}, 22, 'the access log has 22 lines');

    main::check_counts($a, $log, 0);

    %main::Expected = (bytes_in => $log->{bytes_in},
                       bytes_out => $log->{bytes_out});

    my $o = main::analytics("from=$from&api=orders");
    Test::More::is($o->{totals}{requests}, 20, 'api=orders');

    my $s = main::analytics("from=$from&api=search");
    Test::More::is($s->{totals}{requests}, 2, 'api=search');
    Test::More::is($s->{totals}{status}{'2xx'}, 2, 'api=search: 2xx');

    my $c = main::analytics("from=$from&consumer=acme");
    Test::More::is($c->{totals}{requests}, 10, 'consumer=acme');

    my $p = main::analytics("from=$from&plan=tiny");
    Test::More::is($p->{totals}{requests}, 2, 'plan=tiny');
    Test::More::is($p->{totals}{rejections}{QUOTA_EXCEEDED}, 1,
                   'plan=tiny: one over quota');

    my ($orders) = grep { $_->{api} eq 'orders' } @{ $a->{apis} };

    Test::More::is_deeply($orders,
        { api => 'orders', requests => 20, errors => 7,
          error_rate => 0.35,
          top_consumers => [
              { consumer => 'acme', requests => 10, errors => 0,
                error_rate => 0 },
              { consumer => 'bob', requests => 2, errors => 1,
                error_rate => 0.5 },
              { consumer => 'carl', requests => 2, errors => 1,
                error_rate => 0.5 },
              { consumer => 'dora', requests => 1, errors => 1,
                error_rate => 1 },
              { consumer => 'erin', requests => 1, errors => 1,
                error_rate => 1 } ] },
        'top consumers of orders, most requests first');

    my $top = main::analytics("from=$from&api=orders&top=2");
    Test::More::is(scalar @{ $top->{apis}[0]{top_consumers} }, 2, 'top=2');
} }
--- no_error_log
[error]
[alert]



=== TEST 2: after a restart the counts are all in the store, and new ones add to them
--- init
Test::More::ok($main::NginxPid && main::nginx_pid() != $main::NginxPid,
               'nginx was restarted');

my $a = main::analytics("from=$main::Start");

main::check_counts($a, \%main::Expected, 0);
--- request eval
["GET /p/k", "GET /p/k"]
--- more_headers
X-API-Key: acme-key-0001
--- error_code eval
[200, 200]
--- after_response eval
{ 1 => sub {
    my $a = main::analytics_of("from=$main::Start", 24);

    Test::More::is($a->{totals}{requests}, 24, 'two more requests');
    Test::More::is($a->{totals}{status}{'2xx'}, 16, 'two more 2xx');

    my $h = main::analytics("from=$main::Start&granularity=hour");
    Test::More::is($h->{totals}{requests}, 24, 'the hour buckets agree');

    my $d = main::analytics("from=$main::Start&granularity=day");
    Test::More::is($d->{totals}{requests}, 24, 'the days agree');
} }
--- no_error_log
[error]
[alert]



=== TEST 3: retention: minute buckets older than an hour and hour buckets older than 30 days are removed; younger ones stay
--- init
my $now = time();
my $a;

for (1 .. 30) {
    $a = main::analytics('api=old&granularity=hour&from=' . ($now - 60 * 86400));
    last if $a->{totals}{requests} == 0;
    Time::HiRes::sleep(0.1);
}

Test::More::is($a->{totals}{requests}, 0, 'the 40 days old hour is gone');

$a = main::analytics('api=old&granularity=minute&from=' . ($now - 3 * 3600));
Test::More::is($a->{totals}{requests}, 0, 'the 2 hours old minute is gone');

$a = main::analytics('api=kept&granularity=hour&from=' . ($now - 60 * 86400));
Test::More::is($a->{totals}{requests}, 7, 'the 10 days old hour stays');
Test::More::is($a->{totals}{bytes_in}, 700, 'with its bytes');
Test::More::is($a->{totals}{latency_ms_sum}, 21, 'and its latency');

$a = main::analytics('api=kept&granularity=day&from=' . ($now - 60 * 86400));
Test::More::is(scalar @{ $a->{series} }, 1, 'one day');
Test::More::like($a->{series}[0]{time}, qr/T00:00:00Z\z/,
                 'a day starts at midnight UTC');
--- request
GET /analytics?api=nothing
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/\A\{"granularity":"minute","from":"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z","to":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","filter":\{"api":"nothing","consumer":null,"plan":null\},"totals":\{"requests":0,.*"series":\[\],"apis":\[\]\}\n\z/
--- no_error_log
[error]
[alert]



=== TEST 4: an empty range answers the whole shape of the JSON; times in RFC 3339 with an offset, and in seconds
--- request eval
["GET /analytics?from=2026-01-01T01:30:00%2B01:00&to=2026-01-01T02:00:00Z&granularity=hour",
 "GET /analytics?from=1767225600&to=1767229200&granularity=day&consumer=acme&plan=gold&api=orders"]
--- error_code eval
[200, 200]
--- response_body eval
[qq({"granularity":"hour","from":"2026-01-01T00:00:00Z","to":"2026-01-01T02:00:00Z","filter":{"api":null,"consumer":null,"plan":null},"totals":{"requests":0,"errors":0,"error_rate":0.0000,"bytes_in":0,"bytes_out":0,"latency_ms_sum":0,"latency_ms_avg":0.000,"status":{"1xx":0,"2xx":0,"3xx":0,"4xx":0,"5xx":0,"other":0},"rejections":{"NO_KEY":0,"BAD_KEY":0,"EXPIRED":0,"FORBIDDEN":0,"RATE_LIMITED":0,"QUOTA_EXCEEDED":0,"STORE_ERROR":0},"latency_ms_buckets":{"5":0,"10":0,"25":0,"50":0,"100":0,"250":0,"500":0,"1000":0,"2500":0,"5000":0,"+Inf":0}},"series":[],"apis":[]}\n),
 qq({"granularity":"day","from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","filter":{"api":"orders","consumer":"acme","plan":"gold"},"totals":{"requests":0,"errors":0,"error_rate":0.0000,"bytes_in":0,"bytes_out":0,"latency_ms_sum":0,"latency_ms_avg":0.000,"status":{"1xx":0,"2xx":0,"3xx":0,"4xx":0,"5xx":0,"other":0},"rejections":{"NO_KEY":0,"BAD_KEY":0,"EXPIRED":0,"FORBIDDEN":0,"RATE_LIMITED":0,"QUOTA_EXCEEDED":0,"STORE_ERROR":0},"latency_ms_buckets":{"5":0,"10":0,"25":0,"50":0,"100":0,"250":0,"500":0,"1000":0,"2500":0,"5000":0,"+Inf":0}},"series":[],"apis":[]}\n)]
--- no_error_log
[error]
[alert]



=== TEST 5: bad query parameters: 400 naming the parameter
--- request eval
["GET /analytics?granularity=week",
 "GET /analytics?from=yesterday",
 "GET /analytics?to=2026-13-01T00:00:00Z",
 "GET /analytics?to=2026-02-01T00:00:00",
 "GET /analytics?from=2026-02-29T00:00:00Z",
 "GET /analytics?api=bad%20name",
 "GET /analytics?consumer=",
 "GET /analytics?plan=" . ('p' x 65),
 "GET /analytics?top=0",
 "GET /analytics?top=101",
 "GET /analytics?colour=red",
 "GET /analytics?api=a&api=b",
 "GET /analytics?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"]
--- error_code eval
[(400) x 13]
--- response_body eval
[main::bad('The parameter "granularity" must be minute, hour or day.'),
 main::bad('The parameter "from" must be an RFC 3339 time, such as 2026-01-31T12:00:00Z, or seconds since the epoch.'),
 main::bad('The parameter "to" must be an RFC 3339 time, such as 2026-01-31T12:00:00Z, or seconds since the epoch.'),
 main::bad('The parameter "to" must be an RFC 3339 time, such as 2026-01-31T12:00:00Z, or seconds since the epoch.'),
 main::bad('The parameter "from" must be an RFC 3339 time, such as 2026-01-31T12:00:00Z, or seconds since the epoch.'),
 main::bad('The parameter "api" must be a name of 1 to 64 characters of A-Z a-z 0-9 . _ -.'),
 main::bad('The parameter "consumer" must be a name of 1 to 64 characters of A-Z a-z 0-9 . _ -.'),
 main::bad('The parameter "plan" must be a name of 1 to 64 characters of A-Z a-z 0-9 . _ -.'),
 main::bad('The parameter "top" must be a number from 1 to 100.'),
 main::bad('The parameter "top" must be a number from 1 to 100.'),
 main::bad('The parameter "colour" is not one of api, consumer, plan, from, to, granularity and top.'),
 main::bad('The parameter "api" is given twice.'),
 main::bad('The parameter "from" must not be later than "to".')]
--- no_error_log
[error]
[alert]



=== TEST 6: other methods than GET and HEAD: 405 with Allow
--- request
POST /analytics
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/problem+json
--- response_body
{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"The analytics endpoint answers GET and HEAD.","instance":"/analytics"}
--- no_error_log
[error]
[alert]



=== TEST 7: nginx -t: apim_analytics needs apim_store
--- http_config
    apim_analytics;
--- config
--- must_die
--- error_log eval
main::emerg('"apim_analytics" directive needs "apim_store" before it in the http block')



=== TEST 8: nginx -t: a flush interval under 10ms
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics flush=5ms;
--- config
--- must_die
--- error_log eval
main::emerg('apim_analytics: invalid flush interval "flush=5ms", it must be at least 10ms')



=== TEST 9: nginx -t: a retention under an hour
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics retention=30m;
--- config
--- must_die
--- error_log eval
main::emerg('apim_analytics: invalid retention "retention=30m", it must be at least 1h')



=== TEST 10: nginx -t: a zone under 64k
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics zone=32k;
--- config
--- must_die
--- error_log eval
main::emerg('apim_analytics: invalid zone size "zone=32k", it must be at least 64k')



=== TEST 11: nginx -t: an unknown parameter
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics flush=1s keep=1d;
--- config
--- must_die
--- error_log eval
main::emerg('apim_analytics: invalid parameter "keep=1d"')



=== TEST 12: nginx -t: apim_analytics twice
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
    apim_analytics;
    apim_analytics;
--- config
--- must_die
--- error_log eval
main::emerg('"apim_analytics" directive is duplicate')



=== TEST 13: nginx -t: apim_analytics_api needs apim_analytics
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-analytics;
--- config
    location = /analytics { apim_analytics_api; }
--- must_die
--- error_log eval
main::emerg('"apim_analytics_api" directive needs "apim_analytics" before it in the http block')
