# The JSON access log of the README (issue 5): the log_format given there,
# taken from README.md itself, is accepted by nginx and writes one valid
# JSON object a line, with Tyk's field names, for passed, refused and
# limited requests and for requests full of characters JSON must escape;
# the key never appears, only its id.
#
#   prove -I t/lib t/092-logformat.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Sections;

use File::Path qw(remove_tree);
use JSON::PP ();

our $Store = server_root() . '.store-logformat';
our %Id;


# the log_format block of README.md, as an operator would copy it

sub readme_log_format {
    my $dir = $0 =~ m{\A(.*)/[^/]+\z} ? "$1/.." : '..';

    open my $fh, '<', "$dir/README.md" or die "README.md: $!";
    local $/;
    my $readme = <$fh>;

    $readme =~ /```nginx\n(log_format apim_json escape=json .*?)\naccess_log/s
        or die "README.md has no apim_json log_format";

    return $1;
}

# the lines of the JSON access log, decoded; a line that is no JSON fails

sub log_lines {
    open my $fh, '<', server_root() . '/logs/apim.log' or die "apim.log: $!";

    my @lines;

    while (my $line = <$fh>) {
        chomp $line;

        my $rec = eval { JSON::PP->new->decode($line) };

        Test::More::ok($rec, 'a line of valid JSON') or Test::More::diag($line);

        push @lines, $rec if $rec;
    }

    return @lines;
}

# "--- after_response": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response));


remove_tree($Store);

apimctl(qw(consumer add acme --plan gold));
apimctl(qw(consumer add bob --plan tiny));
$Id{acme} = apimctl(qw(key import --consumer acme acme-key-0001));
$Id{bob} = apimctl(qw(key import --consumer bob bob-key-00001));

our $HttpConfig = "    apim_store \$TEST_NGINX_SERVER_ROOT.store-logformat;\n"
                  . "    apim_plan gold;\n"
                  . "    apim_plan tiny quota=1/day quota_window=rolling;\n"
                  . readme_log_format() . "\n";

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

=== TEST 1: every line is valid JSON with Tyk's field names; the key is never logged, only its id
--- config
    access_log logs/apim.log apim_json;

    location /orders/ {
        apim_key header=X-API-Key query=api_key;
        apim_api orders;
        empty_gif;
    }
--- request eval
["GET /orders/a?api_key=acme-key-0001&x=1",
 "GET /orders/b",
 "GET /orders/c",
 "GET /orders/d",
 "GET /orders/%22quoted%22%5Cslash?q=%22",
 "GET /orders/e?api_key=acme-key-0001"]
--- more_headers eval
["User-Agent: plain",
 "X-API-Key: bob-key-00001\nContent-Length: 0\nUser-Agent: plain",
 "X-API-Key: bob-key-00001\nUser-Agent: plain",
 "User-Agent: plain",
 "X-API-Key: wrong-key-0001\nUser-Agent: say \"hi\" \\ \x01 caf\xc3\xa9",
 "User-Agent: plain"]
--- error_code eval
[200, 200, 429, 401, 401, 200]
--- after_response eval
{ 5 => sub {
    my @l = main::log_lines();

    Test::More::is(scalar @l, 6, 'six lines');

    Test::More::is_deeply([sort keys %{ $l[0] }],
        [sort qw(TimeStamp Method Host Path RawPath ContentLength UserAgent
                 ResponseCode APIKey APIName APIID Alias IPAddress
                 RequestTime Plan Status QuotaRemaining BytesIn BytesOut)],
        'the fields');

    my %first = %{ $l[0] };

    Test::More::like(delete $first{TimeStamp},
                     qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\z/,
                     'TimeStamp is ISO 8601');
    Test::More::like(delete $first{RequestTime}, qr/\A\d+\z/,
                     'RequestTime is a number of milliseconds');
    Test::More::like(delete $first{BytesIn}, qr/\A[1-9]\d*\z/, 'BytesIn');
    Test::More::like(delete $first{BytesOut}, qr/\A[1-9]\d*\z/, 'BytesOut');

    Test::More::is_deeply(\%first,
        { Method => 'GET', Host => 'localhost', Path => '/orders/a',
          RawPath => '/orders/a?x=1', ContentLength => '',
          UserAgent => 'plain', ResponseCode => 200,
          APIKey => $main::Id{acme}, APIName => 'orders',
          APIID => 'orders', Alias => 'acme', IPAddress => '127.0.0.1',
          Plan => 'gold', Status => 'PASSED', QuotaRemaining => '' },
        'a passed request');

    Test::More::is_deeply(
        [map { [@$_{qw(Method ResponseCode APIKey Alias Plan Status
                       QuotaRemaining ContentLength)}] } @l[1 .. 3]],
        [['GET', 200, $main::Id{bob}, 'bob', 'tiny', 'PASSED', '0', '0'],
         ['GET', 429, $main::Id{bob}, 'bob', 'tiny', 'QUOTA_EXCEEDED', '0',
          ''],
         ['GET', 401, '', '', '', 'NO_KEY', '', '']],
        'quota, refusals');

    Test::More::is($l[4]{Path}, '/orders/"quoted"\\slash', 'Path escaped');
    Test::More::is($l[4]{RawPath}, '/orders/%22quoted%22%5Cslash?q=%22',
                   'RawPath as sent');
    Test::More::is($l[4]{UserAgent}, "say \"hi\" \\ \x01 caf\xc3\xa9",
                   'UserAgent escaped, bytes kept');
    Test::More::is($l[4]{Status}, 'BAD_KEY', 'a bad key');
    Test::More::is($l[5]{RawPath}, '/orders/e', 'the key argument is gone');

    open my $fh, '<', main::server_root() . '/logs/apim.log' or die;
    local $/;
    my $all = <$fh>;

    Test::More::unlike($all, qr/acme-key-0001|bob-key-00001|wrong-key-0001/,
                       'no key in the log');
} }
--- no_error_log
[error]
[alert]



=== TEST 2: the log format is accepted where no key is checked: empty fields, still valid JSON
--- config
    access_log logs/apim.log apim_json;

    location = /plain { empty_gif; }
--- request
GET /plain
--- error_code: 200
--- after_response eval
{ 0 => sub {
    my @l = main::log_lines();

    Test::More::is(scalar @l, 1, 'one line');
    Test::More::is_deeply([@{ $l[0] }{qw(APIKey APIName Alias Plan Status
                                         ResponseCode)}],
                          ['', '', '', '', '', 200], 'empty $apim_* fields');
} }
--- no_error_log
[error]
[alert]
