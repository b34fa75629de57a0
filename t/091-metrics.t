# Prometheus metrics (issue 5): apim_metrics answers the text exposition
# format 0.0.4, checked here by a strict parser written for this suite
# (metric and label name syntax, label value escapes, HELP and TYPE before
# the samples of their family, families in one run, no series twice,
# histogram buckets cumulative and ending at +Inf, _count equal to the
# +Inf bucket), with values that match the requests sent; a consumer label
# only with consumer_label=on.
#
# Every block starts a new nginx, whose analytics zone starts from zero.
#
#   prove -I t/lib t/091-metrics.t  (or -I <openresty test-nginx>/lib)

use Test::Nginx::Socket 'no_plan';

use FindBin;
use lib "$FindBin::Bin/helpers";
use ApimTest::Ctl;
use ApimTest::Sections;

use File::Path qw(remove_tree);
use Time::HiRes ();

our $Store = server_root() . '.store-metrics';

our $Name = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
our $Value = qr/[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)|NaN/;


# The strict checker: returns (errors, samples), where samples maps
# 'name{label="value",...}' (labels sorted by name, values unescaped) to
# the value.

sub parse_exposition {
    my ($text) = @_;

    my (@err, %help, %type, %samples, %done, %hist);
    my $family = '';

    push @err, 'the text does not end with a newline' unless $text =~ /\n\z/;

    my $n = 0;

    for my $line (split /\n/, $text) {
        $n++;

        if ($line =~ /\A#\s*(HELP|TYPE)\s/) {
            my $what = $1;

            if ($what eq 'HELP') {
                $line =~ /\A# HELP ($Name) ((?:[^\\]|\\[\\n])*)\z/
                    or push(@err, "line $n: bad HELP: $line"), next;

                my $f = $1;

                push @err, "line $n: second HELP of $f" if $help{$f}++;
                push @err, "line $n: HELP of $f after its samples"
                    if $done{$f} || $family eq $f;

            } else {
                $line =~ /\A# TYPE ($Name) (counter|gauge|histogram|summary|untyped)\z/
                    or push(@err, "line $n: bad TYPE: $line"), next;

                my ($f, $t) = ($1, $2);

                push @err, "line $n: second TYPE of $f" if $type{$f};
                push @err, "line $n: TYPE of $f after its samples"
                    if $done{$f} || $family eq $f;

                $type{$f} = $t;
            }

            next;
        }

        next if $line =~ /\A#/ || $line eq '';

        $line =~ /\A($Name)(?:\{(.*)\})? ($Value)(?: -?\d+)?\z/
            or push(@err, "line $n: bad sample: $line"), next;

        my ($name, $labels, $value) = ($1, $2 // '', $3);

        my %l;
        my $rest = $labels;

        while (length $rest) {
            $rest =~ s/\A([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|\z)//
                or push(@err, "line $n: bad labels: {$labels}"), last;

            my ($k, $v) = ($1, $2);

            push @err, "line $n: label $k twice" if exists $l{$k};

            $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            $l{$k} = $v;
        }

        my $f = $name;

        if ($name =~ /\A(.+)_(bucket|sum|count)\z/
            && ($type{$1} // '') eq 'histogram')
        {
            $f = $1;
        }

        push @err, "line $n: $name has no TYPE before it" unless $type{$f};
        push @err, "line $n: $name has no HELP before it" unless $help{$f};

        if ($f ne $family) {
            push @err, "line $n: the samples of $f are not in one run"
                if $done{$f};
            $done{$family} = 1 if $family ne '';
            $family = $f;
        }

        push @err, "line $n: a counter below zero"
            if ($type{$f} // '') eq 'counter' && $value < 0;

        my $key = $name . '{'
                  . join(',', map { qq($_="$l{$_}") } sort keys %l) . '}';

        push @err, "line $n: $key twice" if exists $samples{$key};

        $samples{$key} = $value;

        if (($type{$f} // '') eq 'histogram') {
            my %g = %l;
            my $le = delete $g{le};
            my $id = $f . '{'
                     . join(',', map { qq($_="$g{$_}") } sort keys %g) . '}';

            if ($name eq "${f}_bucket") {
                defined $le or push(@err, "line $n: a bucket without le"),
                    next;
                push @{ $hist{$id}{buckets} }, [$le, $value];

            } else {
                $hist{$id}{$name =~ /_sum\z/ ? 'sum' : 'count'} = $value;
            }
        }
    }

    for my $id (sort keys %hist) {
        my $h = $hist{$id};
        my @b = @{ $h->{buckets} || [] };

        push(@err, "$id: no buckets"), next unless @b;
        push @err, "$id: no _sum" unless defined $h->{sum};
        push @err, "$id: no _count" unless defined $h->{count};
        push @err, "$id: the last bucket is not +Inf" unless $b[-1][0] eq '+Inf';

        for my $i (1 .. $#b) {
            push @err, "$id: le not increasing"
                unless $b[$i][0] eq '+Inf' || $b[$i][0] > $b[$i - 1][0];
            push @err, "$id: buckets not cumulative"
                unless $b[$i][1] >= $b[$i - 1][1];
        }

        push @err, "$id: _count is not the +Inf bucket"
            unless defined $h->{count} && $h->{count} == $b[-1][1];
    }

    return (\@err, \%samples);
}

# "--- metrics eval": { series => value, ... } that the exposition of the
# block's last response must hold (a value undef: the series is absent);
# the exposition must pass the checker

add_response_body_check(sub {
    my ($block, $body, $idx) = @_;

    return unless $block->can('metrics') && defined $block->metrics;

    my $last = ref $block->request eq 'ARRAY' ? $#{ $block->request } : 0;

    return if $idx < $last;

    my $name = $block->name;
    my ($err, $samples) = parse_exposition($body // '');

    Test::More::is_deeply($err, [], "$name - a valid exposition")
        or Test::More::diag($body);

    my $want = $block->metrics;

    for my $k (sort keys %$want) {
        my $v = ref $want->{$k} eq 'CODE' ? $want->{$k}->() : $want->{$k};

        Test::More::is($samples->{$k}, $v, "$name - $k");
    }
});

# "--- after_response": t/helpers/ApimTest/Sections.pm

add_sections(qw(after_response));

# the sums of $request_length and $bytes_sent in the access log of the
# counted requests

sub logged_bytes {
    my ($in, $out) = (0, 0);

    open my $fh, '<', server_root() . '/logs/counts.log'
        or die "counts.log: $!";

    while (my $line = <$fh>) {
        my ($i, $o) = split ' ', $line;
        $in += $i;
        $out += $o;
    }

    return ($in, $out);
}


remove_tree($Store);

apimctl(qw(consumer add acme --plan gold));
apimctl(qw(consumer add bob --plan tiny));
apimctl(qw(key import --consumer acme acme-key-0001));
apimctl(qw(key import --consumer bob bob-key-00001));
apimctl(qw(key import --consumer bob bob-key-00002));

our $HttpConfig = <<'_EOC_';
    apim_store $TEST_NGINX_SERVER_ROOT.store-metrics;
    apim_analytics flush=100ms;
    apim_plan gold;
    apim_plan tiny quota=1/day quota_window=rolling;

    log_format counts '$request_length $bytes_sent';
    access_log logs/counts.log counts if=$apim_api;
_EOC_

our $Config = <<'_EOC_';
    location = /k { apim_key; apim_api orders; empty_gif; }
    location = /moved { apim_api orders; return 301 /k; }
    location = /free { apim_api "search"; empty_gif; }
    location = /metrics { apim_metrics; }
    location = /mc { apim_metrics consumer_label=on; }
    location = /moff { apim_metrics consumer_label=off; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;
});

END {
    remove_tree($Store) if $ENV{TEST_NGINX_RANDOMIZE};
}

run_tests();

__DATA__

=== TEST 1: the exposition is valid and counts the requests sent, without a consumer label
--- request eval
["GET /k", "GET /k", "GET /k", "GET /k", "GET /k", "GET /k", "GET /k",
 "GET /moved", "GET /free", "GET /metrics"]
--- more_headers eval
["X-API-Key: acme-key-0001", "X-API-Key: acme-key-0001",
 "X-API-Key: acme-key-0001", "X-API-Key: bob-key-00001",
 "X-API-Key: bob-key-00001", "", "X-API-Key: wrong-key-0001", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 429, 401, 401, 301, 200, 200]
--- response_headers eval
[("") x 9, "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- metrics eval
{
  'apim_requests_total{api="orders",plan="gold",status="2xx"}' => 3,
  'apim_requests_total{api="orders",plan="tiny",status="2xx"}' => 1,
  'apim_requests_total{api="orders",plan="tiny",status="4xx"}' => 1,
  'apim_requests_total{api="orders",plan="",status="4xx"}' => 2,
  'apim_requests_total{api="orders",plan="",status="3xx"}' => 1,
  'apim_requests_total{api="search",plan="",status="2xx"}' => 1,
  'apim_requests_total{api="orders",consumer="acme",plan="gold",status="2xx"}' => undef,
  'apim_request_duration_seconds_count{api="orders",plan="gold"}' => 3,
  'apim_request_duration_seconds_count{api="orders",plan="tiny"}' => 2,
  'apim_request_duration_seconds_count{api="orders",plan=""}' => 3,
  'apim_request_duration_seconds_bucket{api="orders",le="+Inf",plan="gold"}' => 3,
  'apim_request_duration_seconds_bucket{api="search",le="+Inf",plan=""}' => 1,
  'apim_rejections_total{api="orders",reason="NO_KEY"}' => 1,
  'apim_rejections_total{api="orders",reason="BAD_KEY"}' => 1,
  'apim_rejections_total{api="orders",reason="QUOTA_EXCEEDED"}' => 1,
  'apim_rejections_total{api="orders",reason="RATE_LIMITED"}' => undef,
  'apim_rejections_total{api="search",reason="NO_KEY"}' => undef,
  'apim_analytics_dropped_total{}' => 0,
  'apim_keys{}' => 3,
  'apim_store_up{}' => 1,
}
--- no_error_log
[error]
[alert]



=== TEST 2: consumer_label=on adds the consumer to every request family
--- request eval
["GET /k", "GET /k", "GET /k", "GET /k", "GET /k", "GET /mc"]
--- more_headers eval
["X-API-Key: acme-key-0001", "X-API-Key: acme-key-0001",
 "X-API-Key: bob-key-00002", "X-API-Key: bob-key-00002", "", ""]
--- error_code eval
[200, 200, 200, 429, 401, 200]
--- metrics eval
{
  'apim_requests_total{api="orders",consumer="acme",plan="gold",status="2xx"}' => 2,
  'apim_requests_total{api="orders",consumer="bob",plan="tiny",status="2xx"}' => 1,
  'apim_requests_total{api="orders",consumer="bob",plan="tiny",status="4xx"}' => 1,
  'apim_requests_total{api="orders",consumer="",plan="",status="4xx"}' => 1,
  'apim_requests_total{api="orders",plan="gold",status="2xx"}' => undef,
  'apim_request_duration_seconds_count{api="orders",consumer="acme",plan="gold"}' => 2,
  'apim_rejections_total{api="orders",consumer="bob",reason="QUOTA_EXCEEDED"}' => 1,
  'apim_rejections_total{api="orders",consumer="",reason="NO_KEY"}' => 1,
}
--- no_error_log
[error]
[alert]



=== TEST 3: consumer_label=off is the default
--- request eval
["GET /k", "GET /moff"]
--- more_headers eval
["X-API-Key: acme-key-0001", ""]
--- error_code eval
[200, 200]
--- metrics eval
{
  'apim_requests_total{api="orders",plan="gold",status="2xx"}' => 1,
  'apim_request_duration_seconds_sum{api="orders",plan="gold"}' => 0,
}
--- no_error_log
[error]
[alert]



=== TEST 4: counters do not go back when the counts are flushed to the store
--- request eval
["GET /k", "GET /k", "GET /metrics", "GET /metrics"]
--- more_headers eval
["X-API-Key: acme-key-0001", "X-API-Key: acme-key-0001", "", ""]
--- error_code eval
[200, 200, 200, 200]
--- after_response eval
{ 2 => sub { Time::HiRes::sleep(0.5) } }
--- metrics eval
{
  'apim_requests_total{api="orders",plan="gold",status="2xx"}' => 2,
  'apim_request_duration_seconds_count{api="orders",plan="gold"}' => 2,
  'apim_request_bytes_total{api="orders",plan="gold"}' =>
      sub { (main::logged_bytes())[0] },
  'apim_response_bytes_total{api="orders",plan="gold"}' =>
      sub { (main::logged_bytes())[1] },
}
--- no_error_log
[error]
[alert]



=== TEST 5: the strict checker refuses what Prometheus would refuse
--- init
my @bad = (
    "apim_x 1",
    "# TYPE apim_x counter\napim_x 1\n",
    "# HELP apim_x x\napim_x 1\n",
    "# HELP apim_x x\n# TYPE apim_x counter\napim_x{a=\"b} 1\n",
    "# HELP apim_x x\n# TYPE apim_x counter\napim_x{1a=\"b\"} 1\n",
    "# HELP apim_x x\n# TYPE apim_x counter\napim_x one\n",
    "# HELP apim_x x\n# TYPE apim_x counter\napim_x 1\napim_x 2\n",
    "# HELP apim_x x\n# TYPE apim_x counter\napim_x 1\n# HELP apim_x x\n",
    "# HELP a x\n# TYPE a counter\na 1\n# HELP b x\n# TYPE b counter\nb 1\na{c=\"d\"} 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
);

for my $text (@bad) {
    my ($err) = main::parse_exposition($text);
    Test::More::ok(scalar @$err, "refused: $text");
}

my ($err) = main::parse_exposition("# HELP h x\n# TYPE h histogram\n"
    . "h_bucket{a=\"q\\\"\\\\\\n\",le=\"0.5\"} 1\nh_bucket{a=\"q\\\"\\\\\\n\",le=\"+Inf\"} 2\n"
    . "h_sum{a=\"q\\\"\\\\\\n\"} 1.5\nh_count{a=\"q\\\"\\\\\\n\"} 2\n");
Test::More::is_deeply($err, [], 'a valid histogram with escapes passes');
--- request
GET /metrics
--- error_code: 200
--- no_error_log
[error]
[alert]



=== TEST 6: HEAD answers the headers only; other methods 405 with Allow
--- request eval
["HEAD /metrics", "POST /metrics"]
--- error_code eval
[200, 405]
--- response_headers eval
["Content-Type: text/plain; version=0.0.4; charset=utf-8",
 "Allow: GET, HEAD\nContent-Type: application/problem+json"]
--- response_body eval
["", qq({"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"The metrics endpoint answers GET and HEAD.","instance":"/metrics"}\n)]
--- no_error_log
[error]
[alert]



=== TEST 7: nginx -t: apim_metrics needs apim_analytics
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-metrics;
--- config
    location = /metrics { apim_metrics; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: "apim_metrics" directive needs "apim_analytics" before it in the http block in \S+\/nginx\.conf:\d+$/



=== TEST 8: nginx -t: a bad parameter of apim_metrics
--- config
    location = /metrics { apim_metrics consumer_label=yes; }
--- must_die
--- error_log eval
qr/\[emerg\] \d+#\d+: apim_metrics: invalid parameter "consumer_label=yes", it must be "consumer_label=on" or "consumer_label=off" in \S+\/nginx\.conf:\d+$/



=== TEST 9: a full zone drops the requests of new series and counts them; the rest stay exact
--- http_config
    apim_store $TEST_NGINX_SERVER_ROOT.store-metrics;
    apim_analytics zone=64k;
--- config eval
join('', map { "    location = /a$_ { apim_api a$_; empty_gif; }\n" } 1 .. 100)
. "    location = /metrics { apim_metrics; }\n"
--- request eval
[(map { "GET /a$_" } 1 .. 100), "GET /metrics"]
--- error_code eval
[(200) x 101]
--- after_response eval
{ 100 => sub {
    my ($err, $samples) = main::parse_exposition($_[0]);

    Test::More::is_deeply($err, [], 'a valid exposition');

    my $counted = 0;

    for my $k (keys %$samples) {
        $counted += $samples->{$k} if $k =~ /\Aapim_requests_total\{/;
    }

    my $dropped = $samples->{'apim_analytics_dropped_total{}'};

    Test::More::cmp_ok($dropped, '>', 0, 'some requests were dropped');
    Test::More::cmp_ok($counted, '>', 0, 'some requests were counted');
    Test::More::is($counted + $dropped, 100,
                   'counted and dropped make the requests sent');
    Test::More::is($samples->{'apim_requests_total{api="a1",plan="",status="2xx"}'},
                   1, 'the first series is counted');

    open my $fh, '<', main::server_root() . '/logs/error.log' or die;
    my $warned = grep { /\[warn\] .*apim analytics: the zone is full, requests are not counted: raise apim_analytics zone=/ } <$fh>;

    Test::More::is($warned, 1, 'a warning, once');
} }
--- no_error_log
[error]
[alert]
