
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The developer portal: one self-contained HTML page (its style and script
 * inline, nothing fetched from elsewhere) that reads the catalogue and the
 * usage endpoint of the same server.  The page is built once, when the
 * configuration is read; a Content-Security-Policy with the hashes of its
 * style and script forbids anything else.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_portal.h"


static ngx_int_t ngx_http_apim_portal_default(ngx_conf_t *cf,
    ngx_http_apim_portal_t *pt, ngx_str_t *uri, ngx_array_t *locations,
    char *name, char *endpoint);
static u_char *ngx_http_apim_portal_escape(u_char *p, ngx_str_t *s);
static size_t ngx_http_apim_portal_escaped_len(ngx_str_t *s);
static u_char *ngx_http_apim_portal_hash(u_char *p, char *text);


static char  ngx_http_apim_portal_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<title>";


/* the page's style: the CSP names its hash */

static char  ngx_http_apim_portal_css[] =
    ":root{--fg:#1d2330;--mute:#5b6475;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;"
    "--accent:#2b59c3;--warn:#b35c00;--bad:#b3261e;--ok:#1e7b45}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "\"Helvetica Neue\",Arial,sans-serif;color:var(--fg);background:var("
    "--bg)}\n"
    "header{background:#1d2330;color:#fff;padding:28px 32px}\n"
    "header h1{margin:0;font-size:24px;font-weight:600}\n"
    "header p{margin:4px 0 0;color:#c5cbd8}\n"
    "main{display:grid;grid-template-columns:minmax(0,1fr) 320px;gap:24px;"
    "max-width:1200px;margin:24px auto;padding:0 24px}\n"
    "@media (max-width:900px){main{grid-template-columns:minmax(0,1fr)}aside{"
    "position:static}}\n"
    "#tools{display:flex;gap:12px;align-items:center;margin-bottom:16px;"
    "flex-wrap:wrap}\n"
    "input,select,button{font:inherit;padding:8px 10px;border:1px solid var("
    "--line);border-radius:6px;background:#fff;color:var(--fg)}\n"
    "#q{flex:1;min-width:200px}\n"
    "button{background:var(--accent);border-color:var(--accent);color:#fff;"
    "cursor:pointer}\n"
    "button:hover{filter:brightness(1.1)}\n"
    "#count{color:var(--mute);font-size:13px}\n"
    ".api{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;padding:18px 20px;margin-bottom:16px}\n"
    ".api h2{margin:0;font-size:18px;display:flex;gap:10px;"
    "align-items:baseline;flex-wrap:wrap}\n"
    ".api .name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "monospace;font-size:13px;color:var(--mute)}\n"
    ".badge{font-size:12px;padding:1px 8px;border-radius:999px;border:1px "
    "solid var(--line);color:var(--mute)}\n"
    ".badge.deprecated{border-color:var(--warn);color:var(--warn)}\n"
    ".badge.sunset{border-color:var(--bad);color:var(--bad)}\n"
    ".badge.callable{border-color:var(--ok);color:var(--ok)}\n"
    ".badge.denied{border-color:var(--bad);color:var(--bad)}\n"
    ".desc{margin:8px 0}\n"
    ".meta{color:var(--mute);font-size:13px;margin:6px 0}\n"
    ".tags{display:flex;gap:6px;flex-wrap:wrap;margin:8px 0}\n"
    ".tag{font-size:12px;background:#eef2fb;color:var(--accent);border:0;"
    "padding:2px 8px;border-radius:4px;cursor:pointer}\n"
    "table{border-collapse:collapse;width:100%;margin-top:8px;font-size:14px}\n"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);"
    "overflow-wrap:anywhere}\n"
    "th{color:var(--mute);font-weight:500;font-size:12px;"
    "text-transform:uppercase;letter-spacing:.04em}\n"
    "a{color:var(--accent)}\n"
    "aside{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;padding:18px 20px;align-self:start;position:sticky;"
    "top:24px}\n"
    "aside h2{margin:0 0 8px;font-size:16px}\n"
    "aside form{display:flex;gap:8px}\n"
    "aside input{flex:1;min-width:0}\n"
    ".error{color:var(--bad)}\n"
    ".empty{color:var(--mute);padding:24px 0}\n"
    "footer{max-width:1200px;margin:0 auto 32px;padding:0 24px;color:var("
    "--mute);font-size:12px}\n"
    "#selftest{white-space:pre-wrap;overflow-wrap:anywhere;font-size:11px;"
    "color:var(--mute);padding:0 24px}\n";


static char  ngx_http_apim_portal_body[] =
    "<header><h1 id=\"portal-title\">";


static char  ngx_http_apim_portal_main[] =
    "</h1><p>Find an API, see its plans and limits, and check your own "
    "usage.</p></header>\n"
    "<main>\n"
    "<section>\n"
    "<div id=\"tools\">\n"
    "<input id=\"q\" type=\"search\" placeholder=\"Search by name or tag\" "
    "aria-label=\"Search APIs\">\n"
    "<select id=\"tag\" aria-label=\"Tag\">"
    "<option value=\"\">All tags</option></select>\n"
    "<span id=\"count\"></span>\n"
    "</div>\n"
    "<div id=\"apis\" aria-live=\"polite\"><p class=\"empty\">Loading the "
    "catalogue\xe2\x80\xa6</p></div>\n"
    "</section>\n"
    "<aside>\n"
    "<h2>Your usage</h2>\n"
    "<form id=\"keyform\" autocomplete=\"off\">"
    "<input id=\"key\" type=\"password\" autocomplete=\"off\" "
    "spellcheck=\"false\" placeholder=\"Paste your API key\" "
    "aria-label=\"API key\">"
    "<button type=\"submit\">Show</button></form>\n"
    "<p class=\"meta\">Your key is sent only to this server, in the "
    "X-API-Key header; checking your usage does not count against your "
    "quota.</p>\n"
    "<div id=\"usage\"></div>\n"
    "</aside>\n"
    "</main>\n"
    "<footer>Served by nginx-apim.</footer>\n"
    "<script>";


/* the page's script: the CSP names its hash */

static char  ngx_http_apim_portal_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "\n"
    "  var body = document.body;\n"
    "  var catalogueUrl = body.getAttribute('data-catalogue');\n"
    "  var usageUrl = body.getAttribute('data-usage');\n"
    "  var apis = [];\n"
    "  var search = document.getElementById('q');\n"
    "  var tagSelect = document.getElementById('tag');\n"
    "  var list = document.getElementById('apis');\n"
    "  var count = document.getElementById('count');\n"
    "  var keyForm = document.getElementById('keyform');\n"
    "  var keyInput = document.getElementById('key');\n"
    "  var usageBox = document.getElementById('usage');\n"
    "\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) { e.className = cls; }\n"
    "    if (text !== undefined && text !== null) { e.textContent = String("
    "text); }\n"
    "    return e;\n"
    "  }\n"
    "\n"
    "  function getJson(url, key) {\n"
    "    var headers = { 'Accept': 'application/json' };\n"
    "    if (key) { headers['X-API-Key'] = key; }\n"
    "    return fetch(url, { headers: headers, cache: 'no-store' })\n"
    "      .then(function (res) {\n"
    "        return res.json().then(function (body) {\n"
    "          if (!res.ok) {\n"
    "            throw new Error(body.detail || body.title || ('HTTP ' + "
    "res.status));\n"
    "          }\n"
    "          return body;\n"
    "        });\n"
    "      });\n"
    "  }\n"
    "\n"
    "  function safeLink(url) {\n"
    "    return typeof url === 'string' && /^(https?:\\/\\/|\\/)/i.test(url);\n"
    "  }\n"
    "\n"
    "  function rate(r) {\n"
    "    if (!r) { return 'none'; }\n"
    "    var s = r.limit + (r.window === 1 ? '/s' : r.window === 60 ? '/min' : "
    "'/' + r.window + 's');\n"
    "    return r.burst ? s + ' (burst ' + r.burst + ')' : s;\n"
    "  }\n"
    "\n"
    "  function quota(q) {\n"
    "    if (!q) { return 'none'; }\n"
    "    var w = typeof q.window === 'number' ? q.window + ' s' : q.window;\n"
    "    return q.limit.toLocaleString('en') + ' / ' + w + (q.rolling ? ' ("
    "rolling)' : '');\n"
    "  }\n"
    "\n"
    "  function versions(api) {\n"
    "    if (!api.title) { return []; }\n"
    "    return apis.filter(function (a) { return a.title === api.title; });\n"
    "  }\n"
    "\n"
    "  function card(api) {\n"
    "    var c = el('article', 'api');\n"
    "    c.setAttribute('data-name', api.name);\n"
    "    var h = el('h2');\n"
    "    h.appendChild(el('span', 'title', api.title || api.name));\n"
    "    h.appendChild(el('span', 'name', api.name));\n"
    "    if (api.version) { h.appendChild(el('span', 'badge version', 'v' + "
    "api.version)); }\n"
    "    if (api.state !== 'active') { h.appendChild(el('span', 'badge ' + "
    "api.state, api.state)); }\n"
    "    if (api.visibility === 'private') { h.appendChild(el('span', 'badge', "
    "'private')); }\n"
    "    if (api.callable === true) { h.appendChild(el('span', 'badge "
    "callable', 'your key may call it')); }\n"
    "    if (api.callable === false) { h.appendChild(el('span', 'badge denied',"
    " 'not for your key')); }\n"
    "    c.appendChild(h);\n"
    "\n"
    "    if (api.description) { c.appendChild(el('p', 'desc', "
    "api.description)); }\n"
    "\n"
    "    var meta = [];\n"
    "    if (api.owner) { meta.push('Owner: ' + api.owner); }\n"
    "    if (api.paths && api.paths.length) { meta.push('Paths: ' + "
    "api.paths.join(', ')); }\n"
    "    if (api.deprecated) { meta.push('Deprecated: ' + api.deprecated); }\n"
    "    if (api.sunset) { meta.push('Sunset: ' + api.sunset); }\n"
    "    if (meta.length) { c.appendChild(el('p', 'meta', meta.join(' \\u00b7 "
    "'))); }\n"
    "\n"
    "    var vs = versions(api);\n"
    "    if (vs.length > 1) {\n"
    "      c.appendChild(el('p', 'meta', 'Versions: ' + vs.map(function (a) {\n"
    "        return (a.version ? 'v' + a.version : 'unversioned') + ' (' + "
    "a.name + ')';\n"
    "      }).join(', ')));\n"
    "    }\n"
    "\n"
    "    if (api.tags && api.tags.length) {\n"
    "      var tags = el('div', 'tags');\n"
    "      api.tags.forEach(function (t) {\n"
    "        var b = el('button', 'tag', t);\n"
    "        b.type = 'button';\n"
    "        b.addEventListener('click', function () { tagSelect.value = t; "
    "render(); });\n"
    "        tags.appendChild(b);\n"
    "      });\n"
    "      c.appendChild(tags);\n"
    "    }\n"
    "\n"
    "    if (api.docs && safeLink(api.docs)) {\n"
    "      var p = el('p', 'meta');\n"
    "      var a = el('a', 'docs', 'Documentation');\n"
    "      a.href = api.docs;\n"
    "      a.rel = 'noopener';\n"
    "      p.appendChild(a);\n"
    "      c.appendChild(p);\n"
    "    }\n"
    "\n"
    "    var t = el('table', 'plans');\n"
    "    var tr = el('tr');\n"
    "    ['Plan', 'Rate', 'Quota'].forEach(function (x) { tr.appendChild(el("
    "'th', null, x)); });\n"
    "    t.appendChild(tr);\n"
    "    (api.plans || []).forEach(function (pl) {\n"
    "      var row = el('tr');\n"
    "      row.appendChild(el('td', null, pl.name));\n"
    "      row.appendChild(el('td', null, rate(pl.rate)));\n"
    "      row.appendChild(el('td', null, quota(pl.quota)));\n"
    "      t.appendChild(row);\n"
    "    });\n"
    "    if (!api.plans || !api.plans.length) {\n"
    "      var none = el('tr');\n"
    "      var td = el('td', 'empty', 'No plan may call this API.');\n"
    "      td.colSpan = 3;\n"
    "      none.appendChild(td);\n"
    "      t.appendChild(none);\n"
    "    }\n"
    "    c.appendChild(t);\n"
    "\n"
    "    return c;\n"
    "  }\n"
    "\n"
    "  function matches(api, q, tag) {\n"
    "    if (tag && (api.tags || []).indexOf(tag) < 0) { return false; }\n"
    "    if (!q) { return true; }\n"
    "    q = q.toLowerCase();\n"
    "    return [api.name, api.title, api.description].concat(api.tags || [])\n"
    "      .some(function (s) { return s && s.toLowerCase().indexOf(q) >= 0; }"
    ");\n"
    "  }\n"
    "\n"
    "  function render() {\n"
    "    var q = search.value.trim();\n"
    "    var tag = tagSelect.value;\n"
    "    var shown = apis.filter(function (a) { return matches(a, q, tag); }"
    ");\n"
    "    list.textContent = '';\n"
    "    shown.forEach(function (a) { list.appendChild(card(a)); });\n"
    "    if (!shown.length) { list.appendChild(el('p', 'empty', 'No API "
    "matches.')); }\n"
    "    count.textContent = shown.length + ' of ' + apis.length + ' APIs';\n"
    "  }\n"
    "\n"
    "  function fillTags() {\n"
    "    var seen = {};\n"
    "    apis.forEach(function (a) { (a.tags || []).forEach(function (t) { "
    "seen[t] = 1; }); });\n"
    "    var keep = tagSelect.value;\n"
    "    while (tagSelect.options.length > 1) { tagSelect.remove(1); }\n"
    "    Object.keys(seen).sort().forEach(function (t) {\n"
    "      var o = el('option', null, t);\n"
    "      o.value = t;\n"
    "      tagSelect.appendChild(o);\n"
    "    });\n"
    "    tagSelect.value = seen[keep] ? keep : '';\n"
    "  }\n"
    "\n"
    "  function loadCatalogue(key) {\n"
    "    return getJson(catalogueUrl, key).then(function (cat) {\n"
    "      apis = cat.apis || [];\n"
    "      fillTags();\n"
    "      render();\n"
    "      return cat;\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function showUsage(u) {\n"
    "    usageBox.textContent = '';\n"
    "    var dl = el('table', 'me');\n"
    "    [['Key', u.key_id], ['Consumer', u.consumer], ['Plan', "
    "u.plan]].forEach(function (kv) {\n"
    "      var tr = el('tr');\n"
    "      tr.appendChild(el('th', null, kv[0]));\n"
    "      tr.appendChild(el('td', null, kv[1]));\n"
    "      dl.appendChild(tr);\n"
    "    });\n"
    "    usageBox.appendChild(dl);\n"
    "\n"
    "    var t = el('table', 'policies');\n"
    "    var head = el('tr');\n"
    "    ['Policy', 'Used', 'Left', 'Resets'].forEach(function (x) { "
    "head.appendChild(el('th', null, x)); });\n"
    "    t.appendChild(head);\n"
    "    (u.policies || []).forEach(function (p) {\n"
    "      var tr = el('tr');\n"
    "      tr.setAttribute('data-policy', p.name);\n"
    "      var what = p.name === 'rate' ? rate(p) : quota(p);\n"
    "      tr.appendChild(el('td', null, p.name + ' ' + what));\n"
    "      tr.appendChild(el('td', 'used', p.used));\n"
    "      tr.appendChild(el('td', 'remaining', p.remaining));\n"
    "      tr.appendChild(el('td', null, p.reset));\n"
    "      t.appendChild(tr);\n"
    "    });\n"
    "    if (!u.policies || !u.policies.length) {\n"
    "      var tr = el('tr');\n"
    "      var td = el('td', 'empty', 'Your plan has no limits.');\n"
    "      td.colSpan = 4;\n"
    "      tr.appendChild(td);\n"
    "      t.appendChild(tr);\n"
    "    }\n"
    "    usageBox.appendChild(t);\n"
    "  }\n"
    "\n"
    "  function submitKey() {\n"
    "    var key = keyInput.value.trim();\n"
    "    usageBox.textContent = '';\n"
    "    if (!key) {\n"
    "      usageBox.appendChild(el('p', 'error', 'Paste your API key "
    "first.'));\n"
    "      return Promise.resolve(null);\n"
    "    }\n"
    "    usageBox.appendChild(el('p', 'meta', 'Loading\\u2026'));\n"
    "    return getJson(usageUrl, key).then(function (u) {\n"
    "      showUsage(u);\n"
    "      return loadCatalogue(key).then(function () { return u; });\n"
    "    }).catch(function (err) {\n"
    "      usageBox.textContent = '';\n"
    "      usageBox.appendChild(el('p', 'error', err.message));\n"
    "      return null;\n"
    "    });\n"
    "  }\n"
    "\n"
    "  search.addEventListener('input', render);\n"
    "  tagSelect.addEventListener('change', render);\n"
    "  keyForm.addEventListener('submit', function (ev) { ev.preventDefault(); "
    "submitKey(); });\n"
    "\n"
    "  /*\n"
    "   * #selftest&tag=<tag>&q=<text>&key=<key>: what a visitor does, done "
    "by\n"
    "   * the page itself, its results written into the page (for a headless\n"
    "   * browser)\n"
    "   */\n"
    "\n"
    "  function selftest(params) {\n"
    "    var out = { listed: [], filtered: [], searched: [], usage: null };\n"
    "    var names = function () {\n"
    "      return Array.prototype.map.call(list.querySelectorAll("
    "'article.api'),\n"
    "        function (a) { return a.getAttribute('data-name'); });\n"
    "    };\n"
    "    out.listed = names();\n"
    "    if (params.get('tag')) {\n"
    "      tagSelect.value = params.get('tag');\n"
    "      tagSelect.dispatchEvent(new Event('change'));\n"
    "      out.filtered = names();\n"
    "    }\n"
    "    if (params.get('q')) {\n"
    "      search.value = params.get('q');\n"
    "      search.dispatchEvent(new Event('input'));\n"
    "      out.searched = names();\n"
    "    }\n"
    "    var done = function () {\n"
    "      var pre = el('pre', null, JSON.stringify(out));\n"
    "      pre.id = 'selftest';\n"
    "      document.body.appendChild(pre);\n"
    "    };\n"
    "    if (!params.get('key')) { done(); return; }\n"
    "    keyInput.value = params.get('key');\n"
    "    submitKey().then(function (u) {\n"
    "      out.usage = u && u.policies ? Array.prototype.map.call(\n"
    "        usageBox.querySelectorAll('tr[data-policy]'), function (tr) {\n"
    "          return tr.getAttribute('data-policy') + ':'\n"
    "            + tr.querySelector('.used').textContent + ':'\n"
    "            + tr.querySelector('.remaining').textContent;\n"
    "        }) : usageBox.textContent;\n"
    "      out.consumer = u ? u.consumer : null;\n"
    "      done();\n"
    "    });\n"
    "  }\n"
    "\n"
    "  loadCatalogue().then(function () {\n"
    "    if (location.hash.indexOf('#selftest') === 0) {\n"
    "      selftest(new URLSearchParams(location.hash.slice(1)));\n"
    "    }\n"
    "  }).catch(function (err) {\n"
    "    list.textContent = '';\n"
    "    list.appendChild(el('p', 'error', 'The catalogue cannot be read: ' + "
    "err.message));\n"
    "  });\n"
    "})();\n";


static char  ngx_http_apim_portal_tail[] =
    "</script>\n"
    "</body>\n"
    "</html>\n";


/* apim_portal [catalogue=<uri>] [usage=<uri>] [title=<text>] */

char *
ngx_http_apim_portal_parse(ngx_conf_t *cf, ngx_http_apim_portal_t *pt)
{
    ngx_str_t   *value, *to, v;
    ngx_uint_t   i;

    value = cf->args->elts;

    pt->file = cf->conf_file->file.name;
    pt->line = cf->conf_file->line;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "catalogue=", 10) == 0) {
            to = &pt->catalogue;
            v.data = value[i].data + 10;
            v.len = value[i].len - 10;

        } else if (ngx_strncmp(value[i].data, "usage=", 6) == 0) {
            to = &pt->usage;
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;

        } else if (ngx_strncmp(value[i].data, "title=", 6) == 0) {
            to = &pt->title;
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;

            if (v.len == 0 || v.len > 256) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\": 1 to 256 "
                                   "bytes", &value[i]);
                return NGX_CONF_ERROR;
            }

            *to = v;
            continue;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        /* the page may fetch from its own server only ("connect-src") */

        if (v.len == 0 || v.data[0] != '/' || (v.len > 1 && v.data[1] == '/'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": a path on this "
                               "server, such as \"/apis\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *to = v;
    }

    return NGX_CONF_OK;
}


/*
 * Once the whole configuration is read: the catalogue and usage URIs (the
 * only apim_catalogue and apim_usage locations, when not given), then the
 * page and its policy.
 */

ngx_int_t
ngx_http_apim_portal_build(ngx_conf_t *cf, ngx_http_apim_portal_t *pt,
    ngx_array_t *catalogues, ngx_array_t *usages)
{
    u_char  *p;
    size_t   len;

    if (ngx_http_apim_portal_default(cf, pt, &pt->catalogue, catalogues,
                                     "catalogue", "apim_catalogue")
        != NGX_OK
        || ngx_http_apim_portal_default(cf, pt, &pt->usage, usages,
                                        "usage", "apim_usage")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (pt->title.len == 0) {
        ngx_str_set(&pt->title, "API portal");
    }

    len = sizeof(ngx_http_apim_portal_head) - 1
          + 2 * ngx_http_apim_portal_escaped_len(&pt->title)
          + sizeof("</title>\n<style>") - 1
          + sizeof(ngx_http_apim_portal_css) - 1
          + sizeof("</style>\n</head>\n<body data-catalogue=\"\" "
                   "data-usage=\"\">\n") - 1
          + ngx_http_apim_portal_escaped_len(&pt->catalogue)
          + ngx_http_apim_portal_escaped_len(&pt->usage)
          + sizeof(ngx_http_apim_portal_body) - 1
          + sizeof(ngx_http_apim_portal_main) - 1
          + sizeof(ngx_http_apim_portal_js) - 1
          + sizeof(ngx_http_apim_portal_tail) - 1;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pt->page.data = p;

    p = ngx_cpymem(p, ngx_http_apim_portal_head,
                   sizeof(ngx_http_apim_portal_head) - 1);
    p = ngx_http_apim_portal_escape(p, &pt->title);
    p = ngx_cpymem(p, "</title>\n<style>", sizeof("</title>\n<style>") - 1);
    p = ngx_cpymem(p, ngx_http_apim_portal_css,
                   sizeof(ngx_http_apim_portal_css) - 1);
    p = ngx_cpymem(p, "</style>\n</head>\n<body data-catalogue=\"",
                   sizeof("</style>\n</head>\n<body data-catalogue=\"") - 1);
    p = ngx_http_apim_portal_escape(p, &pt->catalogue);
    p = ngx_cpymem(p, "\" data-usage=\"", sizeof("\" data-usage=\"") - 1);
    p = ngx_http_apim_portal_escape(p, &pt->usage);
    p = ngx_cpymem(p, "\">\n", 3);
    p = ngx_cpymem(p, ngx_http_apim_portal_body,
                   sizeof(ngx_http_apim_portal_body) - 1);
    p = ngx_http_apim_portal_escape(p, &pt->title);
    p = ngx_cpymem(p, ngx_http_apim_portal_main,
                   sizeof(ngx_http_apim_portal_main) - 1);
    p = ngx_cpymem(p, ngx_http_apim_portal_js,
                   sizeof(ngx_http_apim_portal_js) - 1);
    p = ngx_cpymem(p, ngx_http_apim_portal_tail,
                   sizeof(ngx_http_apim_portal_tail) - 1);

    pt->page.len = p - pt->page.data;

    /* nothing but this page's own style and script, and its own server */

    len = sizeof("default-src 'none'; script-src 'sha256-'; "
                 "style-src 'sha256-'; connect-src 'self'; img-src data:; "
                 "base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'") - 1
          + 2 * ngx_base64_encoded_length(32);

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pt->csp.data = p;

    p = ngx_cpymem(p, "default-src 'none'; script-src 'sha256-",
                   sizeof("default-src 'none'; script-src 'sha256-") - 1);
    p = ngx_http_apim_portal_hash(p, ngx_http_apim_portal_js);

    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, "'; style-src 'sha256-",
                   sizeof("'; style-src 'sha256-") - 1);
    p = ngx_http_apim_portal_hash(p, ngx_http_apim_portal_css);

    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(p, "'; connect-src 'self'; img-src data:; "
                   "base-uri 'none'; form-action 'none'; "
                   "frame-ancestors 'none'",
                   sizeof("'; connect-src 'self'; img-src data:; "
                          "base-uri 'none'; form-action 'none'; "
                          "frame-ancestors 'none'") - 1);

    pt->csp.len = p - pt->csp.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_portal_default(ngx_conf_t *cf, ngx_http_apim_portal_t *pt,
    ngx_str_t *uri, ngx_array_t *locations, char *name, char *endpoint)
{
    if (uri->len) {
        return NGX_OK;
    }

    if (locations->nelts == 1) {
        *uri = *(ngx_str_t *) locations->elts;
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "apim_portal in %V:%ui needs \"%s=\": there is %s "
                  "\"%s\" location", &pt->file, pt->line, name,
                  locations->nelts ? "more than one" : "no", endpoint);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_apim_portal_send(ngx_http_request_t *r, ngx_http_apim_portal_t *pt)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_apim_header_out(r, "Content-Security-Policy", pt->csp.data,
                                 pt->csp.len)
        == NULL
        || ngx_http_apim_header_out(r, "X-Content-Type-Options",
                                    (u_char *) "nosniff", 7)
           == NULL
        || ngx_http_apim_header_out(r, "Referrer-Policy",
                                    (u_char *) "no-referrer", 11)
           == NULL
        || ngx_http_apim_header_out(r, "Cache-Control",
                                    (u_char *) "no-cache", 8)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = pt->page.len;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = pt->page.data;
    b->last = pt->page.data + pt->page.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* text for an HTML element or a double-quoted attribute */

static u_char *
ngx_http_apim_portal_escape(u_char *p, ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        switch (s->data[i]) {

        case '&':
            p = ngx_cpymem(p, "&amp;", 5);
            break;

        case '<':
            p = ngx_cpymem(p, "&lt;", 4);
            break;

        case '>':
            p = ngx_cpymem(p, "&gt;", 4);
            break;

        case '"':
            p = ngx_cpymem(p, "&quot;", 6);
            break;

        case '\'':
            p = ngx_cpymem(p, "&#39;", 5);
            break;

        default:
            *p++ = s->data[i];
        }
    }

    return p;
}


static size_t
ngx_http_apim_portal_escaped_len(ngx_str_t *s)
{
    /* "&quot;" is the longest */
    return 6 * s->len;
}


/* base64 of the SHA-256 of the text, a CSP source; NULL on failure */

static u_char *
ngx_http_apim_portal_hash(u_char *p, char *text)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;
    ngx_str_t     src, dst;

    if (EVP_Digest(text, ngx_strlen(text), md, &n, EVP_sha256(), NULL)
        != 1)
    {
        return NULL;
    }

    src.data = md;
    src.len = n;
    dst.data = p;

    ngx_encode_base64(&dst, &src);

    return p + dst.len;
}
