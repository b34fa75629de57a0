# The shared store when it is full (issue 2): quota counts live in shared
# memory and are flushed to the store; when a flush finds the store at its
# size= limit, the failure is logged once at [error], quota-counted requests
# get 503 with a problem body (a count that cannot be written would be lost
# on restart), and everything that only reads keeps working: apim_status,
# plans without a quota, rate limits.  When room is freed in the store,
# the next flush succeeds and quota counting resumes.
#
# The full store is made once, below, as a template that each block copies
# beside the server root (Test::Nginx removes the server root between
# blocks): the keys first, then consumers with big and then ever smaller
# metadata until apimctl finds it full, then tiny records in the
# "counters" sub-database, one a transaction, until even one of those does
# not fit.  LMDB reuses the pages its last transactions freed, so a store
# that refuses apimctl's writes may still take a flush's small one; the
# tiny records sort before every quota count ("q:..."), so the flush adds
# its record to the very leaf page that could not take one more.
#
#   prove -I t/lib t/011-store-full.t     (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Sections;

use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp ();
use POSIX ();

our $Store = server_root() . '.store-full';
our $Template = server_root() . '.store-full-template';
our $Ctl = $ENV{APIMCTL_BIN} // 'tools/apimctl';

# what the flush that finds the store full logs, once
our $FullError = 'apim store: the store is full (size=1048576 bytes) '
                 . '(-30792: MDB_MAP_FULL: Environment mapsize limit reached)';


# runs a command with the text on its stdin: (exit status, stdout, stderr)

sub run_cmd {
    my ($stdin, @cmd) = @_;

    my ($in, $out, $err) = map { File::Temp->new } 1 .. 3;

    print $in $stdin;
    close $in;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', $in->filename or POSIX::_exit(127);
        open STDOUT, '>&', $out or POSIX::_exit(127);
        open STDERR, '>&', $err or POSIX::_exit(127);
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }

    waitpid $pid, 0;

    return ($? >> 8, file_text($out->filename), file_text($err->filename));
}

sub file_text {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return '';
    local $/;
    my $s = <$fh>;

    return $s // '';
}

# runs apimctl on a store; dies unless it succeeds; returns its stdout

sub apimctl {
    my ($store, @args) = @_;

    my ($rc, $out, $err) = run_cmd('', $Ctl, '-s', $store, @args);

    die "apimctl @args: exit $rc: $err" if $rc;

    $out =~ s/\n\z//;
    return $out;
}

# adds consumers with metadata of the length until apimctl finds the store
# full (at most 2000); dies on any other failure

sub fill_consumers {
    my ($seq, $len) = @_;

    for (1 .. 2000) {
        my @meta = $len ? ('--meta', 'm=' . 'x' x $len) : ();

        my ($rc, $out, $err) = run_cmd('', $Ctl, '-s', $Template, '--size',
                                       '1m', 'consumer', 'add',
                                       'fill-' . $$seq++, '--plan', 'free',
                                       @meta);
        next if $rc == 0;

        return if $rc == 1 && $err =~ /^apimctl: the store is full /;

        die "apimctl consumer add: exit $rc: $err";
    }

    die "the store is not full after 2000 consumers of $len bytes";
}

# adds tiny records to "counters", a batch at a time (mdb_load commits
# every 100 records), until a batch does not fit (at most 1000
# batches); dies on any other failure

sub fill_counters {
    my ($seq, $batch) = @_;

    for (1 .. 1000) {
        my $text = join '', map { sprintf "fill-%06d\nx\n", $$seq + $_ }
                            1 .. $batch;

        my ($rc, $out, $err) = run_cmd($text, 'mdb_load', '-T', '-s',
                                       'counters', $Template);

        if ($rc == 0) {
            $$seq += $batch;
            next;
        }

        return if $err =~ /MDB_MAP_FULL/;

        die "mdb_load: exit $rc: $err";
    }

    die "the store is not full after 1000 batches of $batch records";
}

# each block gets its own copy of the full store

sub fresh_store {
    remove_tree($Store);
    make_path($Store, { mode => 0700 });

    for my $file (qw(data.mdb secret)) {
        copy("$Template/$file", "$Store/$file")
            or die "copy $Template/$file: $!";
    }
}

# RFC 9457 bodies

sub problem {
    my ($status, $title, $detail, $instance) = @_;

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}

sub unavailable {
    return problem(503, 'Service Unavailable',
                   "The API gateway's store cannot answer now; "
                   . 'try again later.', '/k');
}


# "--- after_response": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response));


# the keys first, then fill the store

remove_tree($Store, $Template);

apimctl($Template, '--size', '1m', qw(consumer add quota-c --plan metered));
apimctl($Template, '--size', '1m', qw(consumer add free-c --plan free));
apimctl($Template, '--size', '1m', qw(consumer add rate-c --plan rated));

apimctl($Template, '--size', '1m', qw(key import --consumer quota-c
                                      full-quota-0001));
apimctl($Template, '--size', '1m', qw(key import --consumer free-c
                                      full-free-0001));
apimctl($Template, '--size', '1m', qw(key import --consumer rate-c
                                      full-rate-0001));

my $seq = 1;

fill_consumers(\$seq, $_) for 4000, 1000, 100, 0;

$seq = 0;

fill_counters(\$seq, $_) for 100, 10, 1;

my (undef, $stat) = run_cmd('', 'mdb_stat', '-e', $Template);

die "the template's map is not 1m: $stat"
    unless $stat =~ /^\s*Map size: 1048576$/m;


our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-full size=1m flush=50ms;
    apim_plan metered quota=100/day quota_window=rolling;
    apim_plan free;
    apim_plan rated rate=100r/s burst=10;
_EOC_

our $Config = <<'_EOC_';
    location /k { apim_key; empty_gif; }
    location = /status { apim_status; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;

    $block->set_value('post_setup_server_root', 'main::fresh_store();')
        unless defined $block->post_setup_server_root;
});

# every error.log check sees the log from nginx's start: each request's
# check finds the one line the first failed flush logged, and no other
check_accum_error_log();

END {
    remove_tree($Store, $Template) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: a full store: the first quota request passes, counted in memory; the failed flush is logged once; then quota requests get 503
--- request eval
["GET /k", "GET /k", "GET /k"]
--- more_headers
X-API-Key: full-quota-0001
--- wait: 0.3
--- error_code eval
[200, 503, 503]
--- response_headers_like eval
[qq{Content-Type: image/gif\n}
 . qq{RateLimit-Policy: "quota";q=100;w=86400\n}
 . qq{RateLimit: "quota";r=99;t=86(?:400|3\\d\\d)\n},
 qq{Content-Type: application/problem\\+json\nRateLimit:\n},
 qq{Content-Type: application/problem\\+json\nRateLimit:\n}]
--- response_body_like eval
[qr/\AGIF89a/, qr/\A\Q${\ main::unavailable() }\E\z/,
 qr/\A\Q${\ main::unavailable() }\E\z/]
--- grep_error_log eval
qr/\[(?:error|crit|alert|emerg)\] \d+#\d+: \K.*/
--- grep_error_log_out eval
"$main::FullError\n"



=== TEST 2: a full store still answers what only reads: apim_status, a plan without quota, a rate limit
--- request eval
["GET /k", "GET /k", "GET /k", "GET /k", "GET /status", "GET /k"]
--- more_headers eval
["X-API-Key: full-quota-0001", "X-API-Key: full-quota-0001",
 "X-API-Key: full-free-0001", "X-API-Key: full-rate-0001", "",
 "X-API-Key: full-quota-0001"]
--- wait: 0.3
--- error_code eval
[200, 503, 200, 200, 200, 503]
--- response_headers_like eval
[qq{RateLimit: "quota";r=99;t=86(?:400|3\\d\\d)\n},
 qq{Content-Type: application/problem\\+json\n},
 qq{Content-Type: image/gif\nRateLimit-Policy:\nRateLimit:\n},
 qq{Content-Type: image/gif\n}
 . qq{RateLimit-Policy: "rate";q=100;w=1\n}
 . qq{RateLimit: "rate";r=10;t=1\n},
 qq{Content-Type: application/json\n},
 qq{Content-Type: application/problem\\+json\n}]
--- response_body_like eval
[qr/\AGIF89a/,
 qr/\A\Q${\ main::unavailable() }\E\z/,
 qr/\AGIF89a/,
 qr/\AGIF89a/,
 qr/\A\{"store":\{"path":"\Q$main::Store\E","schema":"nginx-apim-store\/1",
    "size":1048576,"map_bytes":1048576,"used_bytes":\d+,
    "records":\{"consumers":\d+,"keys":3,"key_ids":3,"counters":\d+,
    "policies":0,"analytics":0\}\},
    "nginx_version":"[^"]+","module_version":"[^"]+"\}\n\z/x,
 qr/\A\Q${\ main::unavailable() }\E\z/]
--- grep_error_log eval
qr/\[(?:error|crit|alert|emerg)\] \d+#\d+: \K.*/
--- grep_error_log_out eval
"$main::FullError\n"



=== TEST 3: when room is freed in the store, the next flush succeeds and quota counting resumes where memory left it
--- request eval
["GET /k", "GET /k", "GET /k", "GET /status"]
--- more_headers eval
["X-API-Key: full-quota-0001", "X-API-Key: full-quota-0001",
 "X-API-Key: full-quota-0001", ""]
--- after_response eval
{ 1 => sub { main::apimctl($main::Store, 'consumer', 'delete', $_)
                 for map { sprintf 'fill-%d', $_ } 1 .. 20 } }
--- wait: 0.3
--- error_code eval
[200, 503, 200, 200]
--- response_headers_like eval
[qq{RateLimit: "quota";r=99;t=86(?:400|3\\d\\d)\n},
 qq{Content-Type: application/problem\\+json\n},
 qq{RateLimit: "quota";r=98;t=86(?:400|3\\d\\d)\n},
 qq{Content-Type: application/json\n}]
--- response_body_like eval
[qr/\AGIF89a/,
 qr/\A\Q${\ main::unavailable() }\E\z/,
 qr/\AGIF89a/,
 qr/"size":1048576,"map_bytes":\d+,/]
--- grep_error_log eval
qr/\[(?:error|crit|alert|emerg)\] \d+#\d+: \K.*/
--- grep_error_log_out eval
"$main::FullError\n"



=== TEST 4: apim_fail open: while the store is full, quota requests pass uncounted, with $apim_status STORE_ERROR and no consumer header a client sent
--- config
    location /k {
        apim_key;
        apim_fail open;
        add_header X-Apim-Status $apim_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "consumer=$http_x_consumer_username spoof=$http_x_consumer_custom_id\n";
    }
--- request eval
["GET /k", "GET /k", "GET /k"]
--- more_headers eval
["X-API-Key: full-quota-0001", "X-API-Key: full-quota-0001",
 "X-API-Key: full-quota-0001\nX-Consumer-Custom-ID: evil"]
--- wait: 0.3
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
[qq{X-Apim-Status: PASSED\nRateLimit: "quota";r=99;t=86(?:400|3\\d\\d)\n},
 qq{X-Apim-Status: STORE_ERROR\nRateLimit:\n},
 qq{X-Apim-Status: STORE_ERROR\nRateLimit:\n}]
--- response_body eval
["consumer=quota-c spoof=\n", "consumer=quota-c spoof=\n",
 "consumer=quota-c spoof=\n"]
--- grep_error_log eval
qr/\[(?:error|crit|alert|emerg)\] \d+#\d+: \K.*/
--- grep_error_log_out eval
"$main::FullError\n"
