# Limits survive nginx (issue 3): what a key has used of its quota, and
# where its rate stands, are written to the store (on a timer, and by every
# process as it exits) and read back when the key is next seen, so that a
# restart neither forgets nor resets them; a zone too small for the keys
# in use reads evicted states back (TEST 4) or refuses new ones while none
# can be written (TEST 5); many counts changed at once are written in one
# round of sorted runs (TEST 6, src/ngx_http_apim_limit_flush.c).
#
# The blocks run in order: Test::Nginx restarts nginx between them (block 2
# checks that it did, by the pid), and the store, beside the server root,
# stays.
#
#   prove -I t/lib t/031-limits-persist.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Path qw(remove_tree);
use IO::Socket::INET ();
use Time::HiRes ();

no_shuffle();

our $Store = server_root() . '.store-persist';
our (%Id, $NginxPid);

sub nginx_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or return 0;
    my $pid = <$fh> // 0;
    chomp $pid;
    return $pid;
}

# one request on a new connection: its status

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

    return $resp =~ m{^HTTP/1\.[01] (\d{3}) } ? $1 : 0;
}

# what the store holds of a key's use, as apimctl reads it

sub used {
    my ($key) = @_;

    return apimctl('usage', $Id{$key}) =~ /^used: (\d+)$/m ? $1 : -1;
}

remove_tree($Store);

apimctl('consumer', 'add', 'alice', '--plan', 'keep');

for my $key (qw(keep-key-0001 slow-key-0001 flush-key-0001)) {
    my @plan = $key =~ /^slow/ ? ('--plan', 'slow') : ();

    $Id{$key} = apimctl('key', 'import', '--consumer', 'alice', @plan, $key);
}

# many keys for a consumer at once (apimctl key import-file): their ids
# in %Id

sub import_keys {
    my ($consumer, @keys) = @_;
    my $file = server_root() . ".keys-$consumer";

    open my $fh, '>', $file or die "$file: $!";
    print $fh map { "$_\n" } @keys;
    close $fh;

    @Id{@keys} = split /\n/, apimctl('key', 'import-file', '--consumer',
                                     $consumer, $file);
    unlink $file;
}

# 600 keys of a quota of 2, for TEST 4; 10,000 of a quota of 1, for TEST 6

our @Pair = map { sprintf 'pair-key-%04d', $_ } 1 .. 600;
our @Many = map { sprintf 'many-key-%05d', $_ } 1 .. 10000;

apimctl('consumer', 'add', 'bob', '--plan', 'pair');
apimctl('consumer', 'add', 'carol', '--plan', 'once');

import_keys('bob', @Pair);
import_keys('carol', @Many);

# requests on one keep-alive connection, 500 at a time: their statuses

sub get_many {
    my @keys = @_;
    my @status;

    local $SIG{ALRM} = sub { die "get_many: timed out\n" };
    alarm 60;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";

    my $buf = '';

    while (my @batch = splice @keys, 0, 500) {
        print $sock map { "GET /t HTTP/1.1\r\nHost: localhost\r\n"
                          . "X-API-Key: $_\r\n\r\n" } @batch;

        for (@batch) {
            my $end;

            while (($end = index($buf, "\r\n\r\n")) < 0) {
                sysread($sock, $buf, 65536, length $buf) or die "read: $!";
            }

            my $head = substr($buf, 0, $end);
            $buf = substr($buf, $end + 4);

            push @status, $head =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 0;

            my $len = $head =~ /\r\ncontent-length: *(\d+)/i ? $1 : 0;

            while (length $buf < $len) {
                sysread($sock, $buf, 65536, length $buf) or die "read: $!";
            }

            $buf = substr($buf, $len);
        }
    }

    close $sock;
    alarm 0;

    return @status;
}

# how many counts the store holds

sub counts {
    my $out = `mdb_stat -s counters $Store 2>&1`;
    return $out =~ /Entries: (\d+)/ ? $1 : -1;
}

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist;
    apim_plan keep quota=10/day quota_window=rolling;
    apim_plan slow rate=1r/m;
    apim_plan pair quota=2/day;
    apim_plan once quota=1/day;
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

=== TEST 1: spend 3 of a quota of 10, and a rate of 1r/m
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
$main::NginxPid = main::nginx_pid();
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: keep-key-0001", "X-API-Key: keep-key-0001",
 "X-API-Key: keep-key-0001", "X-API-Key: slow-key-0001"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers_like eval
["RateLimit: \"quota\";r=9;t=86400",
 "RateLimit: \"quota\";r=8;t=(86400|86399)",
 "RateLimit: \"quota\";r=7;t=(86400|86399)",
 "RateLimit: \"rate\";r=0;t=60"]
--- no_error_log
[error]
[alert]



=== TEST 2: after a restart the quota goes on from 3, the rate still holds
--- config
    # not the config of TEST 1: nginx is restarted whatever
    # TEST_NGINX_FORCE_RESTART_ON_TEST says
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
Test::More::ok($main::NginxPid && main::nginx_pid() != $main::NginxPid,
               'nginx was restarted');
Test::More::is(main::used('keep-key-0001'), 3,
               'the store holds the 3 requests counted before');
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: keep-key-0001", "X-API-Key: slow-key-0001"]
--- error_code eval
[200, 429]
--- response_headers_like eval
["RateLimit: \"quota\";r=6;t=(86400|8639\\d)",
 "RateLimit: \"rate\";r=0;t=(5\\d|60)\nRetry-After: (5\\d|60)"]
--- no_error_log
[error]
[alert]



=== TEST 3: flush=100ms: counts reach the store while nginx runs
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist flush=100ms;
    apim_plan keep quota=10/day quota_window=rolling;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
Test::More::is(main::get('/t', 'X-API-Key: flush-key-0001'), 200,
               "request $_ passed") for 1 .. 3;

my $used = -1;

for (1 .. 20) {
    Time::HiRes::sleep(0.1);
    $used = main::used('flush-key-0001');
    last if $used == 3;
}

Test::More::is($used, 3, 'the store holds 3 within 2 s');
--- request
GET /t
--- more_headers
X-API-Key: flush-key-0001
--- error_code: 200
--- response_headers_like
RateLimit: "quota";r=6;t=(86400|8639\d)
--- no_error_log
[error]
[alert]



=== TEST 4: a zone too small for the keys in use: states evicted and read back lose nothing
The smallest zone (32k) holds the states of some two hundred keys; 600
keys are used in turn, so every key's state is evicted before its next
request and read back from the store: each key gets its 2 requests and
not one more.
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist zone=32k flush=10ms;
    apim_plan pair quota=2/day;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
for my $pass (1 .. 3) {
    my %status;

    $status{ main::get('/t', "X-API-Key: $_") }++ for @main::Pair;

    my $want = $pass < 3 ? 200 : 429;

    Test::More::is(join(' ', %status), "$want 600",
                   "pass $pass: every key answered $want");
}
--- request
GET /t
--- more_headers
X-API-Key: pair-key-0001
--- error_code: 429
--- no_error_log
[error]
[alert]



=== TEST 5: a zone too small for the states not yet written: 503, logged once, nothing counted in memory alone
With no flush in the test's time, no state can be written and so none
can be evicted: once the 32k zone holds all it can (some two hundred
states), each new key's request gets 503 and nothing is counted for it.
The plan has no quota here: TEST 4 spent those of these keys.
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist zone=32k flush=1h;
    apim_plan pair rate=1000r/s;
--- config
    location = /t {
        apim_key;
        empty_gif;
    }
--- init
my @status = map { main::get('/t', "X-API-Key: $_") } @main::Pair;
my $passed = grep { $_ == 200 } @status;

Test::More::ok($passed > 100 && $passed < 300, "the zone held $passed keys");
Test::More::is(join(' ', @status[0 .. $passed - 1]), join(' ', (200) x $passed),
               'the first keys passed');
Test::More::is(join(' ', @status[$passed .. $#status]),
               join(' ', (503) x (600 - $passed)), 'the others got 503');

my $log = do { local (@ARGV, $/) = (server_root() . '/logs/error.log'); <> };

Test::More::is(join("\n", $log =~ /\[(?:error|crit|alert|emerg)\] \d+#\d+: ([^,\n]*)/g),
               'apim store: the apim zone is full: raise apim_store zone=',
               'the full zone logged once');
--- request
GET /t
--- more_headers
X-API-Key: pair-key-0600
--- error_code: 503
--- response_headers
Content-Type: application/problem+json
--- response_body eval
qq({"type":"about:blank","title":"Service Unavailable","status":503,)
. qq("detail":"The API gateway's store cannot answer now; try again later.",)
. qq("instance":"/t"}\n)
--- no_error_log
[alert]



=== TEST 6: 10,000 counts changed within one interval: one round of three sorted runs writes them all
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-persist;
    apim_plan once quota=1/day;
--- config
    keepalive_requests 20000;

    location = /t {
        apim_key;
        empty_gif;
    }
--- init
my $before = main::counts();
my @status = main::get_many(@main::Many);

Test::More::is(scalar(grep { $_ == 200 } @status), 10000,
               'every key passed once');

my $counts = -1;

for (1 .. 100) {
    Time::HiRes::sleep(0.1);
    $counts = main::counts() - $before;
    last if $counts == 10000;
}

Test::More::is($counts, 10000, 'the store holds 10,000 more counts');

Test::More::is(main::used($_), 1, "$_: the store holds 1")
    for @main::Many[0, 4095, 4096, 5000, 8191, 8192, 9999];
--- request
GET /t
--- more_headers
X-API-Key: many-key-05000
--- error_code: 429
--- no_error_log
[error]
[alert]
