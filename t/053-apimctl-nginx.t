# apimctl's changes as a running nginx sees them (issue 4): a rotated key
# works during its grace and is refused after it, a key update applies on
# the next request, a usage reset gives the whole quota back on the next
# request, and a store exported and imported into a fresh one answers the
# same: the same keys, the same remaining quota.
#
# The steps that must happen while nginx runs are done from --- init
# (which runs once nginx is up), each request on a new connection and
# checked there with Test::More; each block's own request checks the end
# state.  The blocks run in order: TEST 5 imports what TEST 4 counted.
#
#   prove -I t/lib t/053-apimctl-nginx.t   (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;

use File::Copy qw(copy);
use File::Path qw(remove_tree);
use IO::Socket::INET ();
use Time::HiRes ();

no_shuffle();

our $Store = server_root() . '.store-ctl';
our $Store2 = server_root() . '.store-ctl2';
our %Id;
our $Rotated;

# one request with the key on a new connection: "status X-Apim"

sub get {
    my ($key) = @_;

    local $SIG{ALRM} = sub { die "GET /t: timed out\n" };
    alarm 10;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";

    print $sock "GET /t HTTP/1.0\r\nHost: localhost\r\nX-API-Key: $key\r\n\r\n";

    local $/;
    my $resp = <$sock> // '';
    close $sock;

    alarm 0;

    my ($status) = $resp =~ m{^HTTP/1\.[01] (\d{3}) };
    my ($apim) = $resp =~ m{\r\nX-Apim: ([^\r]*)\r\n};

    return ($status // 0) . ' ' . ($apim // '-');
}

sub slurp {
    my ($file) = @_;

    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $s = <$fh>;

    return $s;
}

remove_tree($Store, $Store2);

apimctl('consumer', 'add', 'alice', '--plan', 'five');

for my $key (qw(rot-key-0001 upd-key-0001 reset-key-0001 move-key-0001
                move-key-0002))
{
    $Id{$key} = apimctl('key', 'import', '--consumer', 'alice', $key);
}

# the fresh store of TEST 5: empty, with the secret of the first

mkdir $Store2 or die "$Store2: $!";
copy("$Store/secret", "$Store2/secret") or die "copy: $!";
chmod 0600, "$Store2/secret";

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-ctl;
    apim_plan five quota=5/day quota_window=rolling;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /t {
        apim_key;
        add_header X-Apim "$apim_status;$apim_quota_remaining" always;
        empty_gif;
    }
_EOC_
});

END {
    remove_tree($Store, $Store2) if $ENV{TEST_NGINX_RANDOMIZE};
}

# rotation: both keys work during the grace, then only the new one

sub rotate {
    my $t = Time::HiRes::time();

    $Rotated = apimctl('key', 'rotate', $Id{'rot-key-0001'}, '--grace',
                       '3');

    Test::More::like(main::get('rot-key-0001'), qr/^200 PASSED;/,
                     'the old key works during the grace');
    Test::More::like(main::get($Rotated), qr/^200 PASSED;/,
                     'the new key works at once');

    Time::HiRes::sleep($t + 3.5 - Time::HiRes::time());

    Test::More::is(main::get('rot-key-0001'), '401 EXPIRED;',
                   'the old key is refused after the grace');
    Test::More::like(main::get($Rotated), qr/^200 PASSED;/,
                     'the new key still works');
}

sub update {
    my $id = $Id{'upd-key-0001'};

    Test::More::is(main::get('upd-key-0001'), '200 PASSED;4', 'before');

    apimctl('key', 'update', $id, '--not-before', '1h');

    Test::More::is(main::get('upd-key-0001'), '401 BAD_KEY;',
                   'not valid yet on the next request');

    apimctl('key', 'update', $id, '--not-before', '-');

    Test::More::is(main::get('upd-key-0001'), '200 PASSED;3',
                   'valid again on the next request');
}

sub reset_usage {
    my @got = map { main::get('reset-key-0001') } 1 .. 6;

    Test::More::is_deeply(\@got, ['200 PASSED;4', '200 PASSED;3',
                                  '200 PASSED;2', '200 PASSED;1',
                                  '200 PASSED;0', '429 QUOTA_EXCEEDED;0'],
                          'the quota of 5 is used up');

    apimctl('usage', 'reset', $Id{'reset-key-0001'});

    Test::More::is(main::get('reset-key-0001'), '200 PASSED;4',
                   'after usage reset, the next request has it all back');
}

# TEST 4's counts, flushed when nginx stopped, go to the fresh store

sub move {
    my $file1 = server_root() . '.export1.json';
    my $file2 = server_root() . '.export2.json';

    apimctl('export', '--output', $file1);

    my $report = apimctl_on($Store2, 'import', $file1);

    Test::More::like($report, qr/^consumers_changed: 1\nkeys_changed: 6\n/,
                     'imported while nginx runs on the fresh store');

    apimctl_on($Store2, 'export', '--output', $file2);

    Test::More::ok(slurp($file1) eq slurp($file2),
                   'its export is the same bytes');

    $report = apimctl_on($Store2, 'import', $file1);

    Test::More::like($report, qr/^changed: 0$/m,
                     'importing again changes nothing');

    unlink $file1, $file2;

    Test::More::is(main::get('move-key-0001'), '200 PASSED;2',
                   'a key with the same remaining quota (2 of 5 used)');
    Test::More::is(main::get('reset-key-0001'), '200 PASSED;2',
                   'the reset key too (1 + 1 used since the reset)');
    Test::More::like(main::get($Rotated), qr/^200 PASSED;/,
                     'the rotated key');
    Test::More::is(main::get('rot-key-0001'), '401 EXPIRED;',
                   'the key it replaced stays expired');
    Test::More::is(main::get('no-such-key-0001'), '401 BAD_KEY;',
                   'an unknown key is still unknown');
}

run_tests();

__DATA__

=== TEST 1: key rotate --grace 3: the old key works for 3 s, then is refused
--- init
main::rotate();
--- request
GET /t
--- more_headers
X-API-Key: rot-key-0001
--- error_code: 401
--- response_headers
X-Apim: EXPIRED;
--- timeout: 10
--- no_error_log
[error]
[alert]



=== TEST 2: key update applies on the next request
--- init
main::update();
--- request
GET /t
--- more_headers
X-API-Key: upd-key-0001
--- error_code: 200
--- response_headers
X-Apim: PASSED;2
--- no_error_log
[error]
[alert]



=== TEST 3: usage reset is seen by the running nginx on the next request
--- init
main::reset_usage();
--- request
GET /t
--- more_headers
X-API-Key: reset-key-0001
--- error_code: 200
--- response_headers
X-Apim: PASSED;3
--- no_error_log
[error]
[alert]



=== TEST 4: two requests counted in the first store
--- request eval
["GET /t", "GET /t"]
--- more_headers
X-API-Key: move-key-0001
--- error_code eval
[200, 200]
--- response_headers eval
["X-Apim: PASSED;4", "X-Apim: PASSED;3"]
--- no_error_log
[error]
[alert]



=== TEST 5: exported, then imported into a fresh store: the same answers
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-ctl2;
    apim_plan five quota=5/day quota_window=rolling;
--- init
main::move();
--- request
GET /t
--- more_headers
X-API-Key: move-key-0002
--- error_code: 200
--- response_headers
X-Apim: PASSED;4
--- no_error_log
[error]
[alert]



=== TEST 6: apimctl plans: the apim_plan lines of the nginx running with the store
--- init
Test::More::is(main::apimctl('plans'), 'five quota=5/day quota_window=rolling',
               'apimctl plans: what the running nginx published');
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]
[alert]
