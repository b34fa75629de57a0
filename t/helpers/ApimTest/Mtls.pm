# Real mTLS for the mesh suites (t/075 to t/077): a free port, CAs and
# SVIDs made with openssl (one command line each) in $Pki (set by the
# suite, beside the server root), a call over TLS presenting an SVID
# (call), nginx -t of an http{} body (nginx_t), and a call repeated until
# both workers have answered (both).  All exported into main, where
# --- init and eval sections call them as main::call() or read $main::Pki,
# under either Test::Nginx runner.

package ApimTest::Mtls;

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use IO::Socket::INET ();
use IO::Socket::SSL ();

our @EXPORT = qw($Pki $Nginx $Serial free_port openssl make_ca make_leaf
                 call nginx_t both);

our $Pki;
our $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $Serial = 1;

# a free port on 127.0.0.1, other than those given, picked at random
# below the ephemeral range: the kernel's own choice (port 0) tends to
# hand two suites started together the same port, and with "reuseport"
# both nginx would then share it

sub free_port {
    my %taken = map { $_ => 1 } @_;

    for (1 .. 1000) {
        my $port = 2000 + int rand(30000);

        next if $taken{$port};

        my $sock = IO::Socket::INET->new(Listen => 1, Proto => 'tcp',
                                         LocalAddr => '127.0.0.1',
                                         LocalPort => $port)
            or next;
        close $sock;
        return $port;
    }

    die "no free port\n";
}

sub openssl {
    my $out = `openssl @_ 2>&1`;
    die "openssl @_: $out" if $?;
}

# a CA: its key and self-signed certificate

sub make_ca {
    my ($name) = @_;

    openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
            "-nodes -keyout $Pki/$name.key -out $Pki/$name.crt -days 2",
            "-subj /CN=$name",
            "-addext basicConstraints=critical,CA:TRUE",
            "-addext keyUsage=critical,keyCertSign,cRLSign");
}

# a leaf certificate signed by $ca, with the subjectAltName entries given
# ("URI:spiffe://...", "DNS:localhost")

sub make_leaf {
    my ($name, $ca, @san) = @_;

    open my $ext, '>', "$Pki/$name.ext" or die "$name.ext: $!";
    print $ext "basicConstraints=critical,CA:FALSE\n",
               "keyUsage=critical,digitalSignature\n",
               "extendedKeyUsage=clientAuth,serverAuth\n";
    print $ext "subjectAltName=", join(',', @san), "\n" if @san;
    close $ext;

    openssl("req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
            "-nodes -keyout $Pki/$name.key -out $Pki/$name.csr",
            "-subj /CN=$name");
    openssl("x509 -req -in $Pki/$name.csr -CA $Pki/$ca.crt",
            "-CAkey $Pki/$ca.key -set_serial", $Serial++, "-days 2",
            "-out $Pki/$name.crt -extfile $Pki/$name.ext");
}

# one request over TLS, presenting the SVID $svid (undef: no certificate);
# returns the status, the headers (lowercase names) and the body

sub call {
    my ($svid, $request) = @_;

    my ($method, $path) = split ' ', $request;

    my $sock = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $ENV{TEST_NGINX_MESH_PORT},
        SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
        Timeout => 5,
        ($svid ? (SSL_cert_file => "$Pki/$svid.crt",
                  SSL_key_file => "$Pki/$svid.key") : ()))
        or die "TLS connect: $IO::Socket::SSL::SSL_ERROR\n";

    print $sock "$method $path HTTP/1.0\r\nHost: localhost\r\n",
                "Content-Length: 0\r\n\r\n";

    local $/;
    my $resp = <$sock> // '';
    close $sock;

    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($status) = $head =~ m{^HTTP/1\.[01] (\d{3}) };
    my %h;

    for my $line (split /\r\n/, $head) {
        $h{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }

    return ($status // 0, \%h, $body // '');
}

# nginx -t of an http{} body; returns the exit code and the output

sub nginx_t {
    my ($http) = @_;

    my $dir = File::Temp->newdir;
    my $conf = "$dir/nginx.conf";
    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';

    open my $fh, '>', $conf or die "$conf: $!";
    print $fh $modules, "error_log stderr;\npid $dir/nginx.pid;\n",
              "events {}\nhttp {\n$http\n}\n";
    close $fh;

    my $out = `$Nginx -t -p $dir/ -c $conf 2>&1`;

    return ($? >> 8, $out, $conf);
}

# calls until each worker has answered $n times (at most 200 calls); every
# answer must have the status and $mesh_authz given

sub both {
    my ($svid, $request, $status, $authz, $n) = @_;

    $n //= 2;

    my (%by, @bad);

    for (1 .. 200) {
        my ($st, $h) = call($svid, $request);
        my $pid = $h->{'x-worker'} // 0;

        push @{ $by{$pid} }, "$st " . ($h->{'x-authz'} // '');

        last if keys %by >= 2 && !grep { @$_ < $n } values %by;
    }

    my $who = $svid // 'no certificate';
    my @all = map { @$_ } values %by;

    Test::More::is(scalar keys %by, 2, "$who, $request: both workers answered");
    Test::More::is(scalar(grep { $_ ne "$status $authz" } @all), 0,
                   "$who, $request: all " . scalar(@all)
                   . " answers are \"$status $authz\"")
        or Test::More::diag(join "\n", map { "$_: @{ $by{$_} }" } keys %by);
}

1;
