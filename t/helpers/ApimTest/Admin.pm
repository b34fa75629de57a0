# Helpers the admin API suites (t/060 to t/064) share: apimctl and key()
# on the suite's store (from ApimTest::Ctl), a request from Perl between
# two requests of a block (http), RFC 9457 problem bodies, the patterns of
# random values, json_like, and the "--- response_json eval" and (from
# ApimTest::Sections) "--- after_response eval" sections, registered in
# that order when this is loaded, so load it after Test::Nginx::Socket.
# Everything is exported into main, where the blocks call
# main::problem(), main::apimctl() and read $main::Auth, under either
# Test::Nginx runner.

package ApimTest::Admin;

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use JSON::PP;

use ApimTest::Ctl qw(:DEFAULT %Id key);
use ApimTest::Sections ();

our @EXPORT = (@ApimTest::Ctl::EXPORT, qw(
    %Id $Auth $Json $Time $Cid $Kid $Iid $Key
    key http problem json_like
));

our $Auth = "Authorization: Bearer admin-token-0123456789\n";
our $Json = "Content-Type: application/json\n";

# what random values look like
our $Time = qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/;
our $Cid = qr/\Ac_[A-Za-z0-9]{11}\z/;
our $Kid = qr/\Aak_[A-Za-z0-9]{11}\z/;
our $Iid = qr/\Aik_[A-Za-z0-9]{11}\z/;
our $Key = qr/\Aak_[A-Za-z0-9]{11}_[A-Za-z0-9_-]{43}\z/;

# a request from Perl to the test server, between two requests of a block

sub http {
    my ($method, $path, $headers, $body) = @_;

    my $res = HTTP::Tiny->new(timeout => 5)->request($method,
        'http://127.0.0.1:' . main::server_port() . $path,
        { headers => $headers // {},
          defined $body ? (content => $body) : () });

    return $res;
}

# RFC 9457 bodies

sub problem {
    my ($status, $title, $detail, $instance) = @_;

    return qq({"type":"about:blank","title":"$title","status":$status,)
           . qq("detail":"$detail","instance":"$instance"}\n);
}

# a JSON value against an expected shape: a Regexp matches a string, a
# code reference is called with the value (and may keep it), anything
# else is compared exactly; objects must have exactly the keys expected

sub json_like {
    my ($got, $exp, $path) = @_;

    if (ref $exp eq 'Regexp') {
        return defined $got && !ref $got && $got =~ $exp
               ? '' : "$path: " . ($got // 'null') . " !~ $exp";
    }

    if (ref $exp eq 'CODE') {
        return $exp->($got) ? '' : "$path: rejected " . ($got // 'null');
    }

    if (ref $exp eq 'HASH') {
        return "$path: not an object" unless ref $got eq 'HASH';

        my @keys = sort keys %$exp;
        my @have = sort keys %$got;

        return "$path: keys @have, not @keys" unless "@keys" eq "@have";

        for (@keys) {
            my $e = json_like($got->{$_}, $exp->{$_}, "$path.$_");
            return $e if $e;
        }

        return '';
    }

    if (ref $exp eq 'ARRAY') {
        return "$path: not an array" unless ref $got eq 'ARRAY';
        return "$path: " . @$got . " items, not " . @$exp
            unless @$got == @$exp;

        for (0 .. $#$exp) {
            my $e = json_like($got->[$_], $exp->[$_], "$path\[$_]");
            return $e if $e;
        }

        return '';
    }

    return defined $got ? "$path: $got, not null" : '' unless defined $exp;
    return "$path: null, not $exp" unless defined $got;

    return "$got" eq "$exp" ? '' : "$path: $got, not $exp";
}

# "--- response_json eval": [per request: the shape its JSON body has, or
# undef for none to check]

main::add_response_body_check(sub {
    my ($block, $body, $idx) = @_;

    return unless $block->can('response_json')
                  && defined $block->response_json;

    my $exp = $block->response_json->[$idx];

    return unless defined $exp;

    my $got = eval { JSON::PP->new->decode($body) };
    my $err = defined $got ? json_like($got, $exp, '$')
                           : "not JSON: $body";

    Test::More::is($err, '', $block->name . " - response_json (req $idx)")
        or Test::More::diag("body: $body");
});

ApimTest::Sections::add_sections('after_response');

1;
