# apimctl, the command-line tool: every command's output and exit status,
# every error, and the promises about keys (shown once, stored only as an
# HMAC under the secret, never echoed).  Plain Test::More: no nginx needed.
#
#   make tools/apimctl && prove -v t/050-apimctl.t

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use File::Copy qw(copy);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use JSON::PP qw(decode_json);
use Time::Local qw(timegm);

my $bin = File::Spec->rel2abs($ENV{APIMCTL_BIN} // 'tools/apimctl');

unless (-x $bin) {
    fail("$bin is built (make tools/apimctl)");
    done_testing();
    exit;
}

delete $ENV{APIM_STORE};

my $tmp = tempdir('apimctl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $store = "$tmp/store";
my $seq = 0;

my @keys;       # every key made or imported: none may be in the store
my $hint = "see apimctl --help\n";


# runs apimctl; returns (exit status, stdout, stderr)

sub run {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my @args = @_;

    $seq++;

    my ($in, $out, $err) = map { "$tmp/run$seq.$_" } qw(in out err);

    open my $fh, '>:raw', $in or die "$in: $!";
    print $fh $opt->{stdin} // '';
    close $fh;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', $in or die;
        open STDOUT, '>', $opt->{stdout} // $out or die;
        open STDERR, '>', $err or die;
        exec $bin, @args or exit 127;
    }

    waitpid $pid, 0;

    return ($? >> 8, slurp($out), slurp($err));
}

sub slurp {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return '';
    local $/;
    my $s = <$fh>;

    return $s // '';
}

sub store_bytes {
    my ($dir) = @_;

    return join '', map { slurp($_) } grep { !/secret$/ } glob "$dir/*";
}

sub secret_of {
    my ($file) = @_;

    my $s = slurp($file);
    $s =~ s/[\r\n ]+\z//;

    return $s;
}

sub rfc3339 {
    my ($t) = @_;

    my @tm = gmtime $t;

    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $tm[5] + 1900,
                   $tm[4] + 1, @tm[3, 2, 1, 0];
}

sub from_rfc3339 {
    my ($s) = @_;

    my ($y, $mo, $d, $h, $mi, $sec)
        = $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/ or return;

    return timegm($sec, $mi, $h, $d, $mo - 1, $y);
}

sub fields {
    my ($text) = @_;

    return { map { /^([a-z_]+): (.*)$/ ? ($1, $2) : () } split /\n/, $text };
}

sub usage_error {
    my ($name, $args, $re) = @_;

    my ($rc, $out, $err) = run(@$args);

    is($rc, 2, "$name: exit 2");
    like($err, $re, "$name: the message");
    like($err, qr/\n\Q$hint\E\z/, "$name: the hint");
    is($out, '', "$name: nothing on stdout");
}

sub failure {
    my ($name, $args, $msg) = @_;

    my ($rc, $out, $err) = run(@$args);

    is($rc, 1, "$name: exit 1");
    is($err, "apimctl: $msg\n", "$name: the message");
    is($out, '', "$name: nothing on stdout");
}

sub key_add {
    my @args = @_;

    my ($rc, $out, $err) = run('-s', $store, 'key', 'add', @args);

    is($rc, 0, "key add @args: exit 0") or diag $err;

    my ($key) = $out =~ /^(ak_[A-Za-z0-9]{11}_[A-Za-z0-9_-]{43})\n\z/;

    ok($key, "key add @args: the key alone on stdout");

    $key //= '';
    push @keys, $key;

    my $id = substr $key, 0, 14;

    is($err, "apimctl: key $id created; the key is shown only this once\n",
       "key add @args: the note on stderr");

    return ($key, $id);
}


subtest 'help and version' => sub {
    for my $h ('--help', '-h') {
        my ($rc, $out, $err) = run($h);

        is($rc, 0, "$h: exit 0");
        like($out, qr/^usage: apimctl -s <store-dir>/, "$h: usage line");

        for my $cmd ('consumer add', 'consumer list', 'consumer show',
                     'key add', 'key import', 'key list', 'key show',
                     'key revoke', 'usage <id>')
        {
            like($out, qr/^  \Q$cmd\E/m, "$h: lists $cmd");
        }

        is($err, '', "$h: nothing on stderr");
    }

    my ($rc, $out, $err) = run('--version');

    is($rc, 0, '--version: exit 0');
    like($out, qr/^apimctl \d+\.\d+\.\d+\n\z/, '--version: the version');

    ok(!-e $store, 'help and version touch no store');
};


subtest 'bad usage: exit 2, before the store is touched' => sub {
    usage_error('no command', [], qr/^apimctl: no command\n/);
    usage_error('no store', ['consumer', 'list'],
                qr/^apimctl: no store: use -s <dir> or set APIM_STORE\n/);
    usage_error('unknown command', ['-s', $store, 'frobnicate'],
                qr/^apimctl: unknown command "frobnicate"\n/);
    usage_error('unknown subcommand', ['-s', $store, 'key', 'frob'],
                qr/^apimctl: unknown command "key" "frob"\n/);
    usage_error('group alone', ['-s', $store, 'key'],
                qr/^apimctl: "key" needs a command: add, import, import-file, list, show,/);
    usage_error('unknown option', ['-s', $store, 'key', 'list', '--bogus'],
                qr/^apimctl: unknown option "--bogus"\n/);
    usage_error('option without a value',
                ['-s', $store, 'consumer', 'add', 'x', '--plan'],
                qr/^apimctl: --plan needs a value\n/);
    usage_error('option given twice',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'a',
                 '--plan', 'b'],
                qr/^apimctl: --plan is given twice\n/);
    usage_error('option of another command',
                ['-s', $store, 'consumer', 'list', '--plan', 'gold'],
                qr/^apimctl: --plan does not apply to consumer list\n/);
    usage_error('missing argument', ['-s', $store, 'consumer', 'show'],
                qr/^apimctl: consumer show needs a name\n/);
    usage_error('too many arguments',
                ['-s', $store, 'consumer', 'show', 'a', 'b'],
                qr/^apimctl: consumer show: too many arguments\n/);
    usage_error('consumer add without --plan',
                ['-s', $store, 'consumer', 'add', 'x'],
                qr/^apimctl: consumer add needs --plan\n/);
    usage_error('key add without --consumer', ['-s', $store, 'key', 'add'],
                qr/^apimctl: key add needs --consumer\n/);
    usage_error('bad consumer name',
                ['-s', $store, 'consumer', 'add', 'bad name', '--plan', 'p'],
                qr/^apimctl: invalid consumer name "bad name"/);
    usage_error('consumer name too long',
                ['-s', $store, 'consumer', 'add', 'a' x 65, '--plan', 'p'],
                qr/^apimctl: invalid consumer name "a{65}"/);
    usage_error('bad plan name',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'g/old'],
                qr/^apimctl: invalid --plan "g\/old"/);
    usage_error('bad --consumer',
                ['-s', $store, 'key', 'add', '--consumer', 'a:b'],
                qr/^apimctl: invalid --consumer "a:b"/);
    usage_error('bad --apis',
                ['-s', $store, 'key', 'add', '--consumer', 'a',
                 '--apis', 'a,,b'],
                qr/^apimctl: invalid --apis "a,,b"/);
    usage_error('bad --apis name',
                ['-s', $store, 'key', 'add', '--consumer', 'a',
                 '--apis', 'a,b c'],
                qr/^apimctl: invalid --apis "a,b c"/);
    usage_error('--meta without =',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'novalue'],
                qr/^apimctl: invalid --meta "novalue": use key=value\n/);
    usage_error('--meta without a key',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', '=v'],
                qr/^apimctl: invalid --meta "=v"/);
    usage_error('--meta key twice',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'a=1', '--meta', 'a=2'],
                qr/^apimctl: --meta "a=2": the key is given twice\n/);
    usage_error('--meta not UTF-8',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', "a=\xff\xfe"],
                qr/^apimctl: invalid --meta "a=\\xff\\xfe": not UTF-8/);
    usage_error('--meta too long',
                ['-s', $store, 'consumer', 'add', 'x', '--plan', 'p',
                 '--meta', 'a=' . 'x' x 5000],
                qr/^apimctl: the metadata is too long/);
    usage_error('bad --size', ['-s', $store, '--size', '10x', 'key', 'list'],
                qr/^apimctl: invalid --size "10x"/);
    usage_error('--size too small',
                ['-s', $store, '--size', '512k', 'key', 'list'],
                qr/^apimctl: --size "512k" is too small/);
    usage_error('key id that is not one', ['-s', $store, 'key', 'show', 'x'],
                qr/^apimctl: the argument is not a key id/);

    ok(!-e $store, 'no store was made');
};


subtest 'consumers' => sub {
    my ($rc, $out, $err) = run('-s', $store, 'consumer', 'add', 'alice',
                               '--plan', 'gold', '--meta', 'team=core',
                               '--meta', "note=a \"q\" \\ b\nc\t\x01",
                               '--meta', "name=J\xc3\xbcrgen");

    is($rc, 0, 'consumer add: exit 0') or diag $err;
    is($out, "alice\n", 'consumer add: prints the name');
    is($err, '', 'consumer add: nothing on stderr');

    ok(-d $store, 'the store directory is made');
    is((stat $store)[2] & 07777, 0700, 'the store directory is 0700');
    ok(-f "$store/secret", 'the secret is made');
    is((stat "$store/secret")[2] & 07777, 0600, 'the secret is 0600');
    like(slurp("$store/secret"), qr/^[0-9a-f]{64}\n\z/,
         'the secret is 32 random bytes in hex');

    # the store remembers the secret's fingerprint

    my $fp = substr hmac_sha256_hex('nginx-apim secret fingerprint',
                                    secret_of("$store/secret")), 0, 16;

    ok(index(store_bytes($store), $fp) >= 0,
       'the store holds the secret fingerprint');

    ($rc, $out, $err) = run('-s', $store, '--plan', 'silver', '--',
                            'consumer', 'add', 'bob');

    is($rc, 0, 'options before the command, words after --: exit 0')
        or diag $err;
    is($out, "bob\n", 'the consumer is bob');

    failure('consumer add twice',
            ['-s', $store, 'consumer', 'add', 'alice', '--plan', 'gold'],
            'consumer "alice" exists');

    ($rc, $out, $err) = run('consumer', 'list', '-s', $store);

    is($rc, 0, 'consumer list: exit 0');
    like($out, qr/^alice\tc_[A-Za-z0-9]{11}\tgold\n
                  bob\tc_[A-Za-z0-9]{11}\tsilver\n\z/x,
         'consumer list: name, id, plan');

    my ($alice_id) = $out =~ /^alice\t(\S+)/;

    ($rc, $out, $err) = run('-s', $store, 'consumer', 'show', 'alice');

    is($rc, 0, 'consumer show: exit 0');
    like($out, qr/^name:[ ]alice\nid:[ ]\Q$alice_id\E\nplan:[ ]gold\n
                  created:[ ]\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n
                  metadata:[ ]\{.*\}\n\z/x, 'consumer show: the fields');

    my $created = from_rfc3339(fields($out)->{created});

    ok($created && abs($created - time) < 60, 'consumer show: created now');

    my ($json) = $out =~ /^metadata: (.*)$/m;

    is_deeply(decode_json($json),
              { team => 'core', note => "a \"q\" \\ b\nc\t\x01",
                name => "J\x{fc}rgen" },
              'consumer show: metadata is JSON of the --meta pairs');

    ($rc, $out) = run('-s', $store, 'consumer', 'show', 'bob');

    like($out, qr/^metadata: -$/m, 'consumer show: no metadata');

    failure('consumer show unknown', ['-s', $store, 'consumer', 'show', 'zed'],
            'consumer "zed" not found');

    {
        local $ENV{APIM_STORE} = $store;

        ($rc, $out) = run('consumer', 'list');

        is($rc, 0, 'APIM_STORE names the store');
        like($out, qr/^alice\t/, 'APIM_STORE: the same store');
    }
};


subtest 'keys: add, list, show, usage' => sub {
    my ($key, $id) = key_add('--consumer', 'alice');

    my ($rc, $out, $err) = run('-s', $store, 'key', 'list');

    is($rc, 0, 'key list: exit 0');
    is($out, "$id\talice\t-\tactive\n", 'key list: id, consumer, plan, status');

    ($rc, $out, $err) = run('-s', $store, 'key', 'show', $id);

    is($rc, 0, 'key show: exit 0');
    like($out, qr/^id:[ ]\Q$id\E\nconsumer:[ ]alice\nplan:[ ]-\napis:[ ]-\n
                  created:[ ]\S+Z\nnot_before:[ ]-\nexpires_at:[ ]-\n
                  status:[ ]active\nmetadata:[ ]-\n\z/x,
         'key show: the fields');

    ($rc, $out, $err) = run('-s', $store, 'usage', $id);

    is($rc, 0, 'usage: exit 0');
    is($out, "id: $id\nwindow_start: -\nwindow_end: -\nused: 0\n",
       'usage: no use yet');

    # the record nginx writes: 'U', 1, window_start, window_end, count, tat

  SKIP: {
        skip 'mdb_load is not installed', 3
            unless grep { -x "$_/mdb_load" } split /:/, $ENV{PATH};

        my $rec = pack 'a a q< q< q< q<', 'U', "\x01", 1900000000,
                       1900003600, 42, 123;

        open my $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
        print $fh "q:$id\n", (map { sprintf '\\%02x', ord } split //, $rec),
                  "\n";
        close $fh;

        ($rc, $out, $err) = run('-s', $store, 'usage', $id);

        is($rc, 0, 'usage with a record: exit 0') or diag $err;
        is($out, "id: $id\nwindow_start: " . rfc3339(1900000000)
                 . "\nwindow_end: " . rfc3339(1900003600) . "\nused: 42\n",
           'usage: the window and the count');

        open $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
        print $fh "q:$id\n\\55\\01\n";
        close $fh;

        ($rc, $out, $err) = run('-s', $store, 'usage', $id);

        is($rc, 1, 'usage with a damaged record: exit 1');
    }

    failure('usage of an unknown key',
            ['-s', $store, 'usage', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');
    failure('key show unknown', ['-s', $store, 'key', 'show', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');
    failure('key add for an unknown consumer',
            ['-s', $store, 'key', 'add', '--consumer', 'ghost'],
            'consumer "ghost" not found');
    failure('key list of an unknown consumer',
            ['-s', $store, 'key', 'list', '--consumer', 'ghost'],
            'consumer "ghost" not found');

    # a key given where an id belongs is not echoed

    ($rc, $out, $err) = run('-s', $store, 'key', 'show', $key);

    is($rc, 2, 'key show <the key>: exit 2');
    unlike($out . $err, qr/\Q$key\E|\Q${\ substr $key, 15}\E/,
           'key show <the key>: the key is not echoed');

    # options, and the key's record

    my ($key2, $id2) = key_add('--consumer', 'bob', '--plan', 'platinum',
                               '--apis', 'orders,billing.v2',
                               '--meta', 'ticket=OPS-1',
                               '--expires', '2099-01-31T00:00:00Z',
                               '--not-before', '2098-01-01T00:00:00Z');

    ($rc, $out) = run('-s', $store, 'key', 'show', $id2);

    is($out, "id: $id2\nconsumer: bob\nplan: platinum\n"
             . "apis: orders,billing.v2\ncreated: " . fields($out)->{created}
             . "\nnot_before: 2098-01-01T00:00:00Z\n"
             . "expires_at: 2099-01-31T00:00:00Z\nstatus: not-yet-valid\n"
             . "metadata: {\"ticket\":\"OPS-1\"}\n", 'key show: every field');

    ($rc, $out) = run('-s', $store, 'key', 'list', '--consumer', 'bob');

    is($out, "$id2\tbob\tplatinum\tnot-yet-valid\n",
       'key list --consumer: only that consumer\'s keys');

    ($rc, $out) = run('-s', $store, 'key', 'list');

    is(scalar(() = $out =~ /\n/g), 2, 'key list: every key');

    for my $k ($key, $key2) {
        unlike($out, qr/\Q$k\E/, 'key list: no key text');
    }
};


subtest 'expiry formats' => sub {
    my %d = (s => 1, m => 60, h => 3600, d => 86400, w => 7 * 86400);

    for my $when ('45s', '15m', '12h', '30d', '2w') {
        my ($n, $u) = $when =~ /^(\d+)(\w)$/;

        my $t0 = time;
        my (undef, $id) = key_add('--consumer', 'alice', '--expires', $when);
        my $t1 = time;

        my (undef, $out) = run('-s', $store, 'key', 'show', $id);
        my $t = from_rfc3339(fields($out)->{expires_at});

        ok($t && $t >= $t0 + $n * $d{$u} && $t <= $t1 + $n * $d{$u},
           "--expires $when: from now");
    }

    for my $case (['2099-01-31T00:00:00Z', '2099-01-31T00:00:00Z'],
                  ['2099-01-31t00:00:00z', '2099-01-31T00:00:00Z'],
                  ['2099-01-31T09:00:00+09:00', '2099-01-31T00:00:00Z'],
                  ['2099-01-30T18:30:00-05:30', '2099-01-31T00:00:00Z'],
                  ['2099-01-31T00:00:00.999Z', '2099-01-31T00:00:00Z'],
                  ['2096-02-29T12:00:00Z', '2096-02-29T12:00:00Z'])
    {
        my ($when, $want) = @$case;

        my (undef, $id) = key_add('--consumer', 'alice', '--expires', $when);
        my (undef, $out) = run('-s', $store, 'key', 'show', $id);

        is(fields($out)->{expires_at}, $want, "--expires $when");
    }

    for my $bad ('tomorrow', '30', '30x', '-5d', '1.5h', '2099-02-30T00:00:00Z',
                 '2097-02-29T00:00:00Z', '2099-01-31', '2099-01-31T24:00:00Z',
                 '2099-01-31T00:00:00', '2099-01-31T00:00:00+0900',
                 '2099-01-31 00:00:00Z', '')
    {
        usage_error("--expires \"$bad\"",
                    ['-s', $store, 'key', 'add', '--consumer', 'alice',
                     '--expires', $bad],
                    qr/^apimctl: invalid --expires "\Q$bad\E": use a time/);
    }

    usage_error('--not-before bad',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--not-before', 'soon'],
                qr/^apimctl: invalid --not-before "soon"/);
    usage_error('--expires in the past',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--expires', '2001-01-01T00:00:00Z'],
                qr/^apimctl: --expires "2001-01-01T00:00:00Z" is not in the /);
    usage_error('--not-before after --expires',
                ['-s', $store, 'key', 'add', '--consumer', 'alice',
                 '--expires', '1d', '--not-before', '2d'],
                qr/^apimctl: --not-before is not before --expires\n/);

    my (undef, $id) = key_add('--consumer', 'alice', '--expires', '1s',
                              '--not-before', '2001-01-01T00:00:00Z');

    sleep 2;

    my (undef, $out) = run('-s', $store, 'key', 'list', '--consumer', 'alice');

    like($out, qr/^\Q$id\E\talice\t-\texpired$/m, 'key list: expired');

    (undef, $out) = run('-s', $store, 'key', 'show', $id);

    is(fields($out)->{status}, 'expired', 'key show: expired');
    is(fields($out)->{not_before}, '2001-01-01T00:00:00Z',
       'a --not-before in the past');
};


subtest 'import' => sub {
    my $legacy = 'legacy-Key.0123456789';

    my ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                               'alice', '--plan', 'gold', $legacy);

    is($rc, 0, 'key import: exit 0') or diag $err;
    like($out, qr/^ik_[A-Za-z0-9]{11}\n\z/, 'key import: prints the new id');
    unlike($err, qr/\Q$legacy\E/, 'key import: the key is not echoed');

    push @keys, $legacy;

    my ($id) = $out =~ /^(\S+)/;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'bob', $legacy);

    is($rc, 1, 'import twice: exit 1');
    is($err, "apimctl: this key exists already (id $id)\n",
       'import twice: names the id, not the key');
    is($out, '', 'import twice: nothing on stdout');

    my ($key, $kid) = key_add('--consumer', 'alice');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', $key);

    is($rc, 1, 'import of a generated key: exit 1');
    is($err, "apimctl: this key exists already (id $kid)\n",
       'import of a generated key: its id');

    # from stdin: kept out of the process list

    my $piped = 'piped-key-0123456789';

    ($rc, $out, $err) = run({ stdin => "$piped\r\n" }, '-s', $store, 'key',
                            'import', '--consumer', 'alice', '-');

    is($rc, 0, 'import from stdin: exit 0') or diag $err;
    like($out, qr/^ik_[A-Za-z0-9]{11}\n\z/, 'import from stdin: the id');

    push @keys, $piped;

    ($rc, $out, $err) = run({ stdin => "$piped\n" }, '-s', $store, 'key',
                            'import', '--consumer', 'alice', '-');

    is($rc, 1, 'import from stdin twice: exit 1');

    # a key may start with "-"

    my $dash = '-dash-key-0123456789';

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', $dash);

    is($rc, 0, 'import of a key starting with "-": exit 0') or diag $err;
    unlike($out . $err, qr/\Q$dash\E/, 'and it is not echoed');

    push @keys, $dash;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', '--', '--dashdash-key-0123');

    is($rc, 0, 'import after --: exit 0') or diag $err;

    push @keys, '--dashdash-key-0123';

    for my $case (['empty', ''],
                  ['too short', 'short77'],
                  ['8 KB long', 'k' x 8192],
                  ['513 bytes', 'k' x 513],
                  ['non-ASCII', "caf\xc3\xa9-key-0123"],
                  ['a high byte', "key-\xff-0123456"],
                  ['a space', 'has space 0123'],
                  ['a control byte', "key\x01-0123456"])
    {
        my ($name, $bad) = @$case;

        ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                                'alice', $bad);

        is($rc, 2, "import of a bad key ($name): exit 2");
        like($err, qr/^apimctl: the key is not valid: a key is 8 to 512 /,
             "import of a bad key ($name): the message");
        ok(length $bad < 4 || index($out . $err, $bad) < 0,
           "import of a bad key ($name): not echoed");

        ($rc, $out, $err) = run({ stdin => $bad }, '-s', $store, 'key',
                                'import', '--consumer', 'alice', '-');

        is($rc, 2, "import of a bad key ($name) from stdin: exit 2");
    }

    ($rc, $out, $err) = run({ stdin => "abcdefgh\0xyz\n" }, '-s', $store,
                            'key', 'import', '--consumer', 'alice', '-');

    is($rc, 2, 'import of a key with a NUL byte from stdin: exit 2');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice', 'k' x 512);

    is($rc, 0, 'import of a 512-byte key: exit 0') or diag $err;

    push @keys, 'k' x 512;

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'alice');

    is($rc, 2, 'import without a key: exit 2');

    failure('import for an unknown consumer',
            ['-s', $store, 'key', 'import', '--consumer', 'ghost',
             'some-other-key-0123'],
            'consumer "ghost" not found');
};


subtest 'the store holds HMACs, never keys' => sub {
    my $secret = secret_of("$store/secret");
    my $bytes = store_bytes($store);

    ok(length $bytes > 0, 'the store has bytes');

    for my $key (@keys) {
        ok(index($bytes, $key) < 0, 'no key text in the store');
        ok(index($bytes, hmac_sha256($key, $secret)) >= 0,
           'the key\'s HMAC-SHA-256 under the secret is');
    }

    for my $key (grep { /^ak_/ } @keys) {
        ok(index($bytes, substr $key, 15) < 0, 'no secret part either');
    }

    # the same HMAC by OpenSSL itself

  SKIP: {
        my $openssl = `openssl version 2>/dev/null`;

        skip 'no openssl', 2 unless $openssl;

        for my $key (@keys[0, 1]) {
            my $hex = unpack 'H*', $secret;
            my $file = "$tmp/hmac.in";

            open my $fh, '>:raw', $file or die;
            print $fh $key;
            close $fh;

            open my $p, '-|', 'openssl', 'dgst', '-sha256', '-mac', 'HMAC',
                 '-macopt', "hexkey:$hex", $file or die;
            my $mac = do { local $/; <$p> };
            close $p;

            like($mac, qr/= \Q${\ hmac_sha256_hex($key, $secret)}\E$/m,
                 'OpenSSL agrees on the HMAC');
        }
    }
};


subtest 'revoke' => sub {
    my ($key, $id) = key_add('--consumer', 'bob');

    my ($rc, $out, $err) = run('-s', $store, 'key', 'revoke', $id);

    is($rc, 0, 'key revoke: exit 0') or diag $err;
    is($out, "$id\n", 'key revoke: prints the id');

    failure('key show after revoke', ['-s', $store, 'key', 'show', $id],
            "key \"$id\" not found");
    failure('key revoke twice', ['-s', $store, 'key', 'revoke', $id],
            "key \"$id\" not found");
    failure('usage after revoke', ['-s', $store, 'usage', $id],
            "key \"$id\" not found");

    ($rc, $out) = run('-s', $store, 'key', 'list');

    unlike($out, qr/\Q$id\E/, 'key list: the key is gone');

    ($rc, $out, $err) = run('-s', $store, 'key', 'import', '--consumer',
                            'bob', $key);

    is($rc, 0, 'a revoked key can be imported again') or diag $err;
};


subtest 'a key nobody saw is not kept' => sub {
    plan skip_all => 'no /dev/full' unless -e '/dev/full';

    my (undef, $before) = run('-s', $store, 'key', 'list');

    my ($rc, $out, $err) = run({ stdout => '/dev/full' }, '-s', $store,
                               'key', 'add', '--consumer', 'alice');

    is($rc, 1, 'key add to a full stdout: exit 1');
    like($err, qr/^apimctl: cannot write the key to stdout: [^\n]*; key /,
         'key add to a full stdout: the message');
    like($err, qr/; key ak_[A-Za-z0-9]{11} is revoked\n\z/,
         'key add to a full stdout: names the revoked id');

    my (undef, $after) = run('-s', $store, 'key', 'list');

    is($after, $before, 'the key is not in the store');
};


subtest 'the secret' => sub {
    my $other = "$tmp/other-secret";

    open my $fh, '>', $other or die;
    print $fh 'f' x 64, "\n";
    close $fh;

    my ($rc, $out, $err) = run('-s', $store, '--secret', $other, 'key',
                               'list');

    is($rc, 1, 'another secret: exit 1');
    is($err, "apimctl: the secret does not match the one the store's keys "
             . "were hashed with (secret \"$other\")\n",
       'another secret: the message');
    is($out, '', 'another secret: nothing listed');

    my $same = "$tmp/same-secret";

    copy("$store/secret", $same) or die;

    ($rc, $out, $err) = run('-s', $store, '--secret', $same, 'key', 'list');

    is($rc, 0, 'the same secret in another file: exit 0') or diag $err;

    open $fh, '>', "$tmp/short-secret" or die;
    print $fh "too-short\n";
    close $fh;

    failure('a short secret',
            ['-s', $store, '--secret', "$tmp/short-secret", 'key', 'list'],
            "\"$tmp/short-secret\" is too short: a secret needs at least "
            . "16 bytes");

    open $fh, '>', "$tmp/long-secret-2k" or die;
    print $fh 'x' x 2048;
    close $fh;

    failure('a secret over 1024 bytes',
            ['-s', $store, '--secret', "$tmp/long-secret-2k", 'key', 'list'],
            "\"$tmp/long-secret-2k\" is too long: a secret has at most "
            . "1024 bytes");

    ($rc, $out, $err) = run('-s', $store, '--secret', "$tmp/none", 'key',
                            'list');

    is($rc, 1, 'a missing secret: exit 1');
    like($err, qr/^apimctl: cannot open "\Q$tmp\E\/none": /,
         'a missing secret: the message');
    ok(!-e "$tmp/none", 'a --secret file is never made');

    # a secret longer than a SHA-256 block is hashed first (RFC 2104)

    my $store2 = "$tmp/store-long-secret";
    my $long = "$tmp/long-secret";

    open $fh, '>', $long or die;
    print $fh 'L' x 100, "\n";
    close $fh;

    ($rc, $out, $err) = run('-s', $store2, '--secret', $long, 'consumer',
                            'add', 'carol', '--plan', 'p');

    is($rc, 0, 'a new store with a long secret') or diag $err;
    ok(!-e "$store2/secret", 'no secret is made when --secret is given');

    ($rc, $out, $err) = run('-s', $store2, '--secret', $long, 'key', 'add',
                            '--consumer', 'carol');

    my ($key) = $out =~ /^(\S+)\n/;

    ok(index(store_bytes($store2), hmac_sha256($key, 'L' x 100)) >= 0,
       'HMAC with a long secret');

    ($rc, $out, $err) = run('-s', $store2, 'key', 'list');

    is($rc, 1, 'the store\'s own new secret does not match: exit 1');

    ($rc, $out, $err) = run('-s', $long, 'key', 'list');

    is($rc, 1, 'a store that is not a directory: exit 1');
};


subtest 'a full store' => sub {
    my $small = "$tmp/store-small";
    my @size = ('-s', $small, '--size', '1m');
    my $pad = 'x' x 3000;

    my ($rc, $out, $err) = run(@size, 'consumer', 'add', 'dave', '--plan',
                               'p');

    is($rc, 0, 'a 1m store') or diag $err;

    my ($made, $full) = (0, 0);

    for (1 .. 2000) {
        ($rc, $out, $err) = run(@size, 'key', 'add', '--consumer', 'dave',
                                '--meta', "pad=$pad");

        if ($rc != 0) {
            $full = 1;
            last;
        }

        $made++;
    }

    ok($full, "the store fills up (after $made keys)");
    ok($made > 10, 'it took some keys');
    is($rc, 1, 'a full store: exit 1');
    like($err, qr/^apimctl: the store is full \(size=1m\)/,
         'a full store: the message');
    is($out, '', 'a full store: no key printed');

    ($rc, $out, $err) = run(@size, 'key', 'list');

    is($rc, 0, 'key list in a full store: exit 0') or diag $err;
    is(scalar(() = $out =~ /\n/g), $made, 'key list: every key made');

    ($rc, $out, $err) = run(@size, 'key', 'show', $out =~ /^(\S+)/);

    is($rc, 0, 'key show in a full store: exit 0') or diag $err;

    # deletions need pages too (copy-on-write): they must still work

    (undef, $out) = run(@size, 'key', 'list');

    for my $id (($out =~ /^(\S+)/mg)[0 .. 4]) {
        ($rc, undef, $err) = run(@size, 'key', 'revoke', $id);

        is($rc, 0, 'key revoke in a full store: exit 0') or diag $err;
    }

    ($rc, $out, $err) = run(@size, 'key', 'add', '--consumer', 'dave');

    is($rc, 0, 'then a key fits again') or diag $err;
};


done_testing();
