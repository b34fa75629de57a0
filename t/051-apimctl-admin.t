# apimctl's admin commands (issue 4): consumer update, key update, key
# rotate, usage reset and status; each one's output and exit status, each
# failure and each bad usage.  Plain Test::More: no nginx needed (t/053
# shows nginx seeing the changes).
#
#   make tools/apimctl && prove -v t/051-apimctl-admin.t

use strict;
use warnings;

use Test::More;

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Cli;

my $tmp = apimctl_tmp('apimctl-admin-XXXXXX');
my $store = "$tmp/store";


sub ctl {
    return run('-s', $store, @_);
}

sub show {
    my ($what, $name) = @_;

    my ($rc, $out, $err) = ctl($what, 'show', $name);

    is($rc, 0, "$what show $name: exit 0") or diag $err;

    return fields($out);
}

sub key_add {
    my @args = @_;

    my ($rc, $out, $err) = ctl('key', 'add', @args);

    is($rc, 0, "key add @args: exit 0") or diag $err;

    my ($key) = $out =~ /^(ak_[A-Za-z0-9]{11}_[A-Za-z0-9_-]{43})\n\z/;

    return ($key, substr $key // '', 0, 14);
}

# a usage record as nginx writes it (version 1: generation 0), by mdb_load

sub put_usage {
    my ($id, $start, $end, $count) = @_;

    my $rec = pack 'a a q< q< q< q<', 'U', "\x01", $start, $end, $count, 0;

    open my $fh, '|-', 'mdb_load', '-T', '-s', 'counters', $store or die;
    print $fh "q:$id\n", (map { sprintf '\\%02x', ord } split //, $rec), "\n";
    close $fh or die "mdb_load: $?";
}

sub ok_delete {
    my ($name) = @_;

    my ($rc, $out, $err) = ctl('consumer', 'delete', $name);

    is($rc, 0, "consumer delete $name") or diag $err;
}

sub have_mdb_load {
    return grep { -x "$_/mdb_load" } split /:/, $ENV{PATH};
}


subtest 'help lists every command' => sub {
    my ($rc, $out, $err) = run('--help');

    is($rc, 0, '--help: exit 0');

    for my $cmd ('consumer add', 'consumer update <name> [--plan <plan>]',
                 'consumer list', 'consumer show', 'consumer delete',
                 'key add', 'key import', 'key import-file', 'key list',
                 'key list [--consumer <name>] [--plan <plan>]',
                 'key show', 'key update <id> [--plan <plan>|-]',
                 'key rotate <id> [--grace', 'key revoke', 'usage <id>',
                 'usage reset <id>', 'status', 'export [--output <file>]',
                 'import [--prune] <file>|-')
    {
        like($out, qr/^  \Q$cmd\E/m, "lists $cmd");
    }

    for my $opt ('--grace <time>', '-o, --output <file>', '--prune') {
        like($out, qr/^  \Q$opt\E/m, "explains $opt");
    }

    like($out, qr/Exit status: 0 done, 1 failed, 2 bad usage\./,
         'the exit codes');
    like($out, qr/plans are nginx\.conf's/, 'plans are not apimctl\'s');
};


subtest 'bad usage of the admin commands: exit 2, store untouched' => sub {
    my $id = 'ak_AAAAAAAAAAA';

    usage_error('consumer update without a change',
                ['-s', $store, 'consumer', 'update', 'alice'],
                qr/^apimctl: consumer update needs one of --plan, --meta\n/);
    usage_error('consumer update --plan -',
                ['-s', $store, 'consumer', 'update', 'alice', '--plan', '-'],
                qr/^apimctl: --plan - \(remove\) applies only to key update\n/);
    usage_error('consumer update of a bad name',
                ['-s', $store, 'consumer', 'update', 'a b', '--plan', 'p'],
                qr/^apimctl: invalid consumer name "a b"/);
    usage_error('consumer update --apis',
                ['-s', $store, 'consumer', 'update', 'a', '--apis', 'x'],
                qr/^apimctl: --apis does not apply to consumer update\n/);
    usage_error('key update without a change',
                ['-s', $store, 'key', 'update', $id],
                qr/^apimctl: key update needs one of --plan, --expires, --not-before, --apis, --meta\n/);
    usage_error('key update of a bad id',
                ['-s', $store, 'key', 'update', 'nope', '--plan', 'p'],
                qr/^apimctl: the argument is not a key id/);
    usage_error('key update --consumer',
                ['-s', $store, 'key', 'update', $id, '--consumer', 'c'],
                qr/^apimctl: --consumer does not apply to key update\n/);
    usage_error('key update --expires in the past',
                ['-s', $store, 'key', 'update', $id, '--expires',
                 '2001-01-01T00:00:00Z'],
                qr/^apimctl: --expires "2001-01-01T00:00:00Z" is not in the future\n/);
    usage_error('key add --expires -',
                ['-s', $store, 'key', 'add', '--consumer', 'c', '--expires',
                 '-'],
                qr/^apimctl: --expires - \(remove\) applies only to key update\n/);
    usage_error('key rotate without an id',
                ['-s', $store, 'key', 'rotate'],
                qr/^apimctl: key rotate needs a key id\n/);

    for my $bad ('10x', '366d', '-1', 's', '1m5', '') {
        usage_error("--grace \"$bad\"",
                    ['-s', $store, 'key', 'rotate', $id, '--grace', $bad],
                    qr/^apimctl: invalid --grace "\Q$bad\E": use seconds/);
    }

    usage_error('--grace on key update',
                ['-s', $store, 'key', 'update', $id, '--plan', 'p',
                 '--grace', '5'],
                qr/^apimctl: --grace does not apply to key update\n/);
    usage_error('usage reset without an id',
                ['-s', $store, 'usage', 'reset'],
                qr/^apimctl: usage reset needs a key id\n/);
    usage_error('usage reset of a bad id',
                ['-s', $store, 'usage', 'reset', 'x'],
                qr/^apimctl: the argument is not a key id/);
    usage_error('usage reset of two',
                ['-s', $store, 'usage', 'reset', $id, $id],
                qr/^apimctl: usage reset: too many arguments\n/);
    usage_error('status with an argument',
                ['-s', $store, 'status', 'x'],
                qr/^apimctl: status: too many arguments\n/);
    usage_error('status --plan',
                ['-s', $store, 'status', '--plan', 'p'],
                qr/^apimctl: --plan does not apply to status\n/);

    ok(!-e $store, 'no store was made');
};


subtest 'consumer update' => sub {
    my ($rc, $out, $err) = ctl('consumer', 'add', 'alice', '--plan', 'gold',
                               '--meta', 'team=core', '--meta', 'tier=1');

    is($rc, 0, 'consumer add') or diag $err;

    my $before = show('consumer', 'alice');

    ($rc, $out, $err) = ctl('consumer', 'update', 'alice', '--plan',
                            'silver');

    is($rc, 0, '--plan: exit 0') or diag $err;
    is($out, "alice\n", '--plan: prints the name');
    is($err, '', '--plan: nothing on stderr');

    my $after = show('consumer', 'alice');

    is($after->{plan}, 'silver', '--plan: the new plan');
    is($after->{metadata}, '{"team":"core","tier":"1"}',
       '--plan: the metadata as it was');
    is($after->{id}, $before->{id}, 'the id stays');
    is($after->{created}, $before->{created}, 'the creation time stays');

    ($rc, $out, $err) = ctl('consumer', 'update', 'alice', '--meta',
                            'tier=2', '--meta', 'region=eu');

    is($rc, 0, '--meta: exit 0') or diag $err;
    is(show('consumer', 'alice')->{metadata},
       '{"team":"core","tier":"2","region":"eu"}',
       '--meta merges: a key replaced in place, a new key at the end');

    ($rc, $out, $err) = ctl('consumer', 'update', 'alice', '--meta',
                            'team=', '--meta', 'nope=');

    is($rc, 0, '--meta k=: exit 0') or diag $err;
    is(show('consumer', 'alice')->{metadata}, '{"tier":"2","region":"eu"}',
       '--meta k= removes k; removing a missing key is no error');

    ($rc, $out, $err) = ctl('consumer', 'update', 'alice', '--meta',
                            'tier=', '--meta', 'region=');

    is($rc, 0, 'removing every key: exit 0') or diag $err;
    is(show('consumer', 'alice')->{metadata}, '-', 'no metadata left');

    ($rc, $out, $err) = ctl('consumer', 'update', 'alice', '--meta',
                            'a=' . 'x' x 3000, '--meta', 'b=' . 'y' x 3000);

    is($rc, 1, 'metadata over 4096 bytes: exit 1');
    is($err, "apimctl: the metadata would be too long: 6015 bytes of JSON, "
             . "the most is 4096\n", 'metadata over 4096 bytes: the message');
    is(show('consumer', 'alice')->{metadata}, '-', 'nothing was changed');

    failure('consumer update of an unknown consumer',
            ['-s', $store, 'consumer', 'update', 'bob', '--plan', 'p'],
            'consumer "bob" not found');
};


subtest 'key update' => sub {
    my ($key, $id) = key_add('--consumer', 'alice', '--meta', 'app=web',
                             '--apis', 'orders');

    my $now = time;

    my ($rc, $out, $err) = ctl('key', 'update', $id, '--plan', 'gold',
                               '--apis', 'orders,users', '--expires', '30d',
                               '--not-before', '2020-01-01T00:00:00Z',
                               '--meta', 'env=prod');

    is($rc, 0, 'every field: exit 0') or diag $err;
    is($out, "$id\n", 'prints the id');
    is($err, '', 'nothing on stderr');

    my $f = show('key', $id);

    is($f->{plan}, 'gold', 'the plan');
    is($f->{apis}, 'orders,users', 'the APIs');
    ok(abs(from_rfc3339($f->{expires_at}) - ($now + 30 * 86400)) <= 2,
       'expires_at: 30 days from now');
    is($f->{not_before}, '2020-01-01T00:00:00Z', 'not_before');
    is($f->{metadata}, '{"app":"web","env":"prod"}', 'the metadata merged');
    is($f->{consumer}, 'alice', 'the consumer stays');
    is($f->{status}, 'active', 'still active');

    ($rc, $out, $err) = ctl('key', 'update', $id, '--plan', '-', '--apis',
                            '-', '--expires', '-', '--not-before', '-',
                            '--meta', 'app=');

    is($rc, 0, '"-" removes: exit 0') or diag $err;

    $f = show('key', $id);

    is($f->{plan}, '-', 'no plan of its own: the consumer\'s');
    is($f->{apis}, '-', 'no APIs of its own: the plan\'s');
    is($f->{expires_at}, '-', 'no expiry');
    is($f->{not_before}, '-', 'no start');
    is($f->{metadata}, '{"env":"prod"}', 'one metadata key removed');

    ($rc, $out, $err) = ctl('key', 'update', $id, '--not-before',
                            '2030-01-01T00:00:00Z', '--expires',
                            '2029-01-01T00:00:00Z');

    is($rc, 2, 'not-before after expires, both given: exit 2');

    ctl('key', 'update', $id, '--expires', '2029-01-01T00:00:00Z');

    failure('a not_before after the key\'s expires_at',
            ['-s', $store, 'key', 'update', $id, '--not-before',
             '2030-01-01T00:00:00Z'],
            'the key\'s not_before would not be before its expires_at; '
            . 'nothing was changed');

    is(show('key', $id)->{not_before}, '-', 'nothing was changed');

    ($rc, $out, $err) = ctl('key', 'update', $id, '--expires', '1s');

    is($rc, 0, 'expires in 1 s') or diag $err;
    sleep 2;
    is(show('key', $id)->{status}, 'expired', 'then the key is expired');

    failure('key update of an unknown key',
            ['-s', $store, 'key', 'update', 'ak_AAAAAAAAAAA', '--plan', 'p'],
            'key "ak_AAAAAAAAAAA" not found');
};


subtest 'key rotate' => sub {
    my ($key, $id) = key_add('--consumer', 'alice', '--plan', 'gold',
                             '--apis', 'orders', '--meta', 'app=mobile');

    my $old = show('key', $id);
    my $now = time;

    my ($rc, $out, $err) = ctl('key', 'rotate', $id, '--grace', '5m');

    is($rc, 0, 'rotate --grace 5m: exit 0') or diag $err;

    my ($new) = $out =~ /^(ak_[A-Za-z0-9]{11}_[A-Za-z0-9_-]{43})\n\z/;

    ok($new, 'the new key alone on stdout');

    $new //= '';

    my $nid = substr $new, 0, 14;

    isnt($nid, $id, 'a new id');
    like($err, qr/^\Qapimctl: key $nid replaces $id, which stops working at\E
                  [ ]\S+Z;[ ]the[ ]key[ ]is[ ]shown[ ]only[ ]this[ ]once
                  \n\z/x, 'the note on stderr');

    my ($at) = $err =~ /at (\S+Z);/;

    my $f = show('key', $id);

    ok(abs(from_rfc3339($f->{expires_at}) - ($now + 300)) <= 2,
       'the old key expires 5 minutes from now');
    is($f->{expires_at}, $at // '', 'as the note says');
    is($f->{status}, 'active', 'the old key works during the grace');

    my $n = show('key', $nid);

    is($n->{$_}, $old->{$_}, "the new key has the old one's $_")
        for qw(consumer plan apis metadata not_before);
    is($n->{expires_at}, '-', 'and its expiry (none)');
    is($n->{status}, 'active', 'the new key is active');

    ($rc, $out, $err) = run('-s', $store, 'key', 'list');

    like($out, qr/^\Q$id\E\talice\tgold\tactive$/m, 'both keys listed');
    like($out, qr/^\Q$nid\E\talice\tgold\tactive$/m, '...the new one too');

    # a second rotation of the old key never extends its expiry

    ($rc, $out, $err) = ctl('key', 'rotate', $id, '--grace', '1h');

    is($rc, 0, 'rotate again with a longer grace') or diag $err;
    is(show('key', $id)->{expires_at}, $f->{expires_at},
       'the old key\'s expiry is not moved later');

    # no grace: the old key stops at once

    ($rc, $out, $err) = ctl('key', 'rotate', $nid);

    is($rc, 0, 'rotate without --grace') or diag $err;
    is(show('key', $nid)->{status}, 'expired', 'the old key stops at once');

    for my $g (['90', 90], ['30s', 30], ['2h', 7200], ['1d', 86400]) {
        my (undef, $gid) = key_add('--consumer', 'alice');

        $now = time;
        ($rc, $out, $err) = ctl('key', 'rotate', $gid, '--grace', $g->[0]);

        is($rc, 0, "--grace $g->[0]: exit 0") or diag $err;
        ok(abs(from_rfc3339(show('key', $gid)->{expires_at})
               - ($now + $g->[1])) <= 2, "--grace $g->[0]: $g->[1] s");
    }

    my $exp = show('key', $nid)->{expires_at};

    failure('rotate an expired key',
            ['-s', $store, 'key', 'rotate', $nid, '--grace', '1h'],
            "key \"$nid\" expired at $exp: a new key would take its expiry; "
            . 'give it a later one with "key update --expires" first');

    failure('rotate an unknown key',
            ['-s', $store, 'key', 'rotate', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');

  SKIP: {
        skip 'mdb_load is not installed', 6 unless have_mdb_load();

        # the usage goes with the rotation: no fresh quota by rotating

        my (undef, $uid) = key_add('--consumer', 'alice');

        put_usage($uid, 1900000000, 1900003600, 7);

        ($rc, $out, $err) = ctl('key', 'rotate', $uid, '--grace', '10');

        is($rc, 0, 'rotate a key with usage') or diag $err;

        my ($unid) = $err =~ /key (\S+) replaces/;

        ($rc, $out, $err) = ctl('usage', $unid // 'x');

        is($rc, 0, 'the new key\'s usage') or diag $err;
        like($out, qr/^used: 7$/m, 'carries the old key\'s count');

        ($rc, $out, $err) = ctl('usage', $uid);

        like($out, qr/^used: 7$/m, 'the old key keeps its own');
    }
};


subtest 'key list --plan: the keys on a plan, own or inherited' => sub {
    ctl('consumer', 'add', 'pat', '--plan', 'basic');

    my (undef, $own) = key_add('--consumer', 'pat', '--plan', 'premium');
    my (undef, $inherited) = key_add('--consumer', 'pat');

    my ($rc, $out, $err) = ctl('key', 'list', '--plan', 'premium');

    is($rc, 0, 'exit 0') or diag $err;
    is($out, "$own\tpat\tpremium\tactive\n", 'the key with its own plan');

    ($rc, $out) = ctl('key', 'list', '--plan', 'basic');

    is($out, "$inherited\tpat\t-\tactive\n", 'the key with its consumer\'s');

    ($rc, $out) = ctl('key', 'list', '--plan', 'basic', '--consumer',
                      'alice');

    is($out, '', 'both filters apply');

    ($rc, $out) = ctl('key', 'list', '--plan', 'none');

    is($rc, 0, 'no key on the plan: exit 0');
    is($out, '', 'no key on the plan: nothing');

    ok_delete('pat');
};


subtest 'usage reset' => sub {
    my (undef, $id) = key_add('--consumer', 'alice');

    my ($rc, $out, $err);

  SKIP: {
        skip 'mdb_load is not installed', 5 unless have_mdb_load();

        put_usage($id, 1900000000, 1900003600, 42);

        ($rc, $out, $err) = ctl('usage', $id);

        like($out, qr/^used: 42$/m, 'a count of 42');

        ($rc, $out, $err) = ctl('usage', 'reset', $id);

        is($rc, 0, 'usage reset: exit 0') or diag $err;

        ($rc, $out, $err) = ctl('usage', $id);

        is($out, "id: $id\nwindow_start: -\nwindow_end: -\nused: 0\n",
           'the count is gone');

        # a flush by nginx of a count made before the reset: not counted

        put_usage($id, 1900000000, 1900003600, 42);

        ($rc, $out, $err) = ctl('usage', $id);

        like($out, qr/^used: 0$/m,
             'a usage record of an older generation reads as none');

        ($rc, $out, $err) = ctl('usage', 'show', $id);

        is($rc, 2, '"usage show" is not a command (usage <id> is)');
    }

    ($rc, $out, $err) = ctl('usage', 'reset', $id);

    is($rc, 0, 'reset of a key with no usage: exit 0') or diag $err;
    is($out, "$id\n", 'prints the id');
    is($err, '', 'nothing on stderr');

    failure('usage reset of an unknown key',
            ['-s', $store, 'usage', 'reset', 'ak_AAAAAAAAAAA'],
            'key "ak_AAAAAAAAAAA" not found');
};


subtest 'status' => sub {
    my ($rc, $out, $err) = ctl('status');

    is($rc, 0, 'status: exit 0') or diag $err;
    is($err, '', 'nothing on stderr');

    my $f = fields($out);

    is_deeply([map { /^([a-z_]+):/ ? $1 : () } split /\n/, $out],
              [qw(path schema secret_fp size map_bytes used_bytes consumers
                  keys key_ids counters policies analytics version)],
              'the fields, in order');
    is($f->{path}, $store, 'the path');
    is($f->{schema}, 'nginx-apim-store/1', 'the schema');
    like($f->{secret_fp}, qr/^[0-9a-f]{16}\z/, 'the secret\'s fingerprint');
    is($f->{size}, 1024 ** 3, 'the size limit (--size default 1g)');
    like($f->{map_bytes}, qr/^\d+\z/, 'the map size');
    ok($f->{used_bytes} > 0 && $f->{used_bytes} <= $f->{map_bytes},
       'the bytes in use');
    is($f->{consumers}, 1, 'one consumer');
    is($f->{keys}, $f->{key_ids}, 'a key id per key');
    ok($f->{keys} >= 10, 'the keys made above');
    like($f->{version}, qr/^\d+\.\d+\.\d+\z/, 'the version');

    ($rc, $out, $err) = run('-s', $store, '--size', '64m', 'status');

    is(fields($out)->{size}, 64 * 1024 ** 2, '--size shows');

    ($rc, $out, $err) = run('-s', "$tmp/not-a-dir/x", 'status');

    is($rc, 1, 'a store that cannot be made: exit 1');
    like($err, qr/^apimctl: cannot make the store directory/,
         'the message');
};


done_testing();
