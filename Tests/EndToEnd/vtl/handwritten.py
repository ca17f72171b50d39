"""Hand-written mapping templates covering every construct the engine supports: the
differential test renders each with `gatehouse render --batch` and with the Apache Velocity
oracle (../shared/oracle/vtl), and the stored expectations in corpus.jsonl come from the oracle."""
import json

BODY = json.dumps({
    "name": "Ada O'Brien", "list": ["a", "b", "c"], "nums": [3, 1, 2],
    "nested": {"k": "v", "n": 3, "arr": [{"x": 1, "t": "p"}, {"x": 2, "t": "q"}]},
    "url": "http://example.com/a/b?c=d&e=f", "quote": "say \"hi\"\n\ttab", "unicode": "caf\u00e9 \u2603 \U0001F600",
    "num": 1.50, "neg": -7, "big": 12345678901, "flag": True, "off": False, "nothing": None,
    "empty": "", "spaces": "  padded  ", "csv": "a,b,,c,,", "errorMessage": "{\"key1\":\"var1\",\"key2\":{\"arr\":[1,2,3]}}",
    "pets": [{"id": 1, "type": "dog", "price": 249.99}, {"id": 2, "type": "cat", "price": 124.99}],
})
PARAMS = {"path": {"id": "abc", "proxy": "x/y"}, "querystring": {"name": "World", "q": "a b&c", "n": "5"},
          "header": {"Content-Type": "application/json", "X-Trace": "t-1", "User-Agent": "curl/8.0"}}
CONTEXT = {"accountId": "123456789012", "apiId": "abcd1234", "httpMethod": "POST", "stage": "prod",
           "requestId": "req-1", "extendedRequestId": "ext-1", "resourcePath": "/things/{id}",
           "resourceId": "r1", "path": "/prod/things/abc", "protocol": "HTTP/1.1", "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
           "requestTime": "09/Apr/2015:12:34:56 +0000", "requestTimeEpoch": 1428582896000,
           "identity": {"sourceIp": "192.0.2.1", "userAgent": "curl/8.0", "apiKey": None, "caller": "AIDA1", "user": "AIDA1", "userArn": "arn:aws:iam::123456789012:user/u", "accountId": "123456789012"},
           "authorizer": {"principalId": "user-1", "claims": {"sub": "s-1"}}}
STAGE = {"env": "test", "backend": "https://b.example", "n": "3"}

T = []
def t(template, body=None):
    T.append((template, body))

# --- references
t("$input.body")
t("${input.body}|$!{input.body}|$!input.body")
t("$input.path('$.name') $input.path('$.name').length() ${input.path('$.name').toUpperCase()}x")
t("$context.identity.sourceIp|$context.identity.userAgent|$context.requestId|$context.stage|$context.resourcePath")
t("$context.httpMethod $context.accountId $context.apiId $context.requestTime $context.requestTimeEpoch $context.identity.caller")
t("[$context.identity.apiKey] [$context.nope] [$context.identity.nope.deeper]")
t("$stageVariables.env $stageVariables.backend $stageVariables['n'] $stageVariables.get('env') [$stageVariables.nope]")
t("$foo $!foo ${foo} $!{foo} $foo.bar $foo.bar() $foo[0]")
t("$ $1 $$ $.x $-x ${ }x ${a b}")
t("$a.b.c.d $a.b() $a.toString()")
t("#set($m = {'a': {'b': [10, 20]}})$m.a.b[1] $m['a']['b'][0] $m.a.b.get(0) $m.get('a').get('b')")
t("#set($l = ['x', 'y'])$l[0]$l[1] $l.get(1)")
t("#set($i = 1)#set($l = ['x', 'y'])$l[$i]")
t("$input.path('$.list')[0] $input.path('$.pets')[1].type $input.path('$.pets')[0]['price']")
t("$my-var $my_var $_x $x1 $x-1 $a-b-c")
t("$input.path('$.name')-suffix $input.path('$.name').-x")
t("$input.params('id').")
t("email@$context.stage.com $context.stage.")
# --- escapes
t("\\$input \\$nope \\\\$nope \\\\\\$nope \\\\\\\\$context.stage")
t("\\#set($x = 1)$x \\#if(true)y\\#end \\\\#if(true)z#end")
t("\\ \\\\ a\\b \\n \\$ \\#")
t("#set($x = 'v')\\$x \\\\$x \\${x} \\$!x")
t("\\#foreach \\#macro \\#notadirective")
# --- #set
t("#set($a = 1)$a #set($a = 'two')$a #set($a = [1])$a #set($a = {})$a")
t("#set( $a = 5 )$a#set ($b=6)$b#set($c   =   7   )$c")
t("#set($a = $b)[$a] #set($a = 1)#set($a = $nope)[$a]")
t("#set($a = 'x')#set($a = $input.path('$.missing'))[$a]")
t("#set($a = 'x')#set($a = $input.path('$.nothing'))[$a]")
t("#set($m = {})#set($m.k = 'v')$m #set($m['k2'] = 2)$m")
t("#set($l = [1, 2])#set($l[0] = 9)$l")
t("#set($s = \"pre-$context.stage-post\")$s #set($s2 = 'pre-$context.stage')$s2")
t("#set($s = \"#if(true)yes#end\")$s")
t("#set($x = \"$nope\")[$x]")
t("#set($x = 1)#set($y = \"$x + $x\")$y")
t("#set($a = true)#set($b = !$a)$b #set($c = $a && $b)$c")
# --- #if
t("#if(true)a#end#if(false)b#end#if($nope)c#end#if(!$nope)d#end")
t("#if($input.path('$.flag'))T#else F#end #if($input.path('$.off'))T#else F#end")
t("#if($input.path('$.nothing'))T#else F#end #if($input.path('$.missing'))T#else F#end")
t("#if($input.path('$.empty'))T#else F#end #if($input.path('$.empty') == '')E#end")
t("#if(1 < 2)a#end#if(2 <= 2)b#end#if(3 > 2)c#end#if(2 >= 3)d#end#if(1 lt 2)e#end#if(2 gt 1)f#end#if(2 le 2)g#end#if(2 ge 3)h#end")
t("#if(1 == 1)a#end#if(1 != 1)b#end#if('a' eq 'a')c#end#if('a' ne 'b')d#end#if(1 == '1')e#end#if(1.0 == 1)f#end")
t("#if('a' < 'b')x#else y#end #if($nope < 1)x#else y#end")
t("#if(true && false)a#elseif(true || false)b#else c#end")
t("#if(false)a#elseif(false)b#elseif(true)c#else d#end")
t("#if(false)a#elseif(false)b#else c#end")
t("#{if}(true)brace#{else}no#{end}")
t("#if (true) spaced #end")
t("#if(true)\n  inner\n#end\nafter")
t("  #if(true)\n  x\n  #end\n  y")
t("#if($context.stage == 'prod')PROD#elseif($context.stage == 'dev')DEV#else OTHER#end")
t("#if(!true)a#elseif(not false)b#end")
t("#if(($context.stage == 'prod') and (1 == 1))ok#end")
t("#if([] == [])a#end #if({} == {})b#end #if([1] == [1])c#end")
t("#if($input.path('$.list') == ['a','b','c'])same#else diff#end")
t("#if($input.path('$.nested.n') == 3)three#end #if($input.path('$.num') == 1.5)onefive#end")
# --- #foreach
t("#foreach($x in [1, 2, 3])$x,#end")
t("#foreach($x in $input.path('$.list'))$foreach.index:$x #end")
t("#foreach($x in $input.path('$.nums'))$velocityCount $velocityHasNext $foreach.first $foreach.last|#end")
t("#foreach($x in $input.path('$.nested'))[$x]#end")
t("#foreach($k in $input.path('$.nested').keySet())$k #end")
t("#foreach($e in $input.path('$.nested').entrySet())$e.key=$e.value;#end")
t("#foreach($v in $input.path('$.nested').values())[$v]#end")
t("#foreach($p in $input.path('$.pets'))$p.type costs $p.price#if($foreach.hasNext), #end#end")
t("#foreach($x in 'abc')X#end|#foreach($x in 5)Y#end|#foreach($x in $nope)Z#end|")
t("#foreach($i in [1..3])#foreach($j in [1..2])$i$j #end#end")
t("#foreach($i in [1..3])$foreach.count#foreach($j in [1..2])($foreach.count/$foreach.parent.count)#end #end")
t("#foreach($i in [1..5])#if($i == 3)#break#end$i#end|")
t("#foreach($i in [1..3])#foreach($j in [1..3])#if($j == 2)#break#end$i$j #end#end")
t("#set($x = 'keep')#foreach($x in [1, 2])$x#end $x")
t("#foreach($x in [])never#end done")
t("#foreach($i in [5..1])$i#end #foreach($i in [-2..2])$i,#end #foreach($i in [0..0])$i#end")
t("#set($n = 3)#foreach($i in [1..$n])$i#end")
t("#foreach($i in [1..2000])#set($c = $i)#end$c")
t("#foreach ($x in [1,2])\n  item $x\n#end\nend")
t("[\n#foreach($p in $input.path('$.pets'))\n  {\"id\": $p.id}#if($foreach.hasNext),#end\n\n#end\n]")
t("#foreach($x in [1,2,3])$foreach.hasNext#end")
t("#foreach($x in [{'a':1},{'a':2}])$x.a#end")
# --- #stop, #break outside
t("a#stop b")
t("#foreach($x in [1,2])$x#stop#end after")
t("before#break after")
t("#if(true)in#stop#end out")
# --- macros
t("#macro(hi)Hi!#end#hi()#hi() done")
t("#macro(two $a $b)[$a|$b]#end#two(1 2)#two('x', 'y')#two($context.stage $input.params('id'))")
t("#macro(one $a)[$a]#end#one()#one(1 2)")
t("#macro(rec $n)#if($n > 0)$n#set($m = $n - 1)#rec($m)#end#end#rec(3)")
t("#macro(m)M#end\n#m()\nafter")
t("#nomacro() #nomacro")
t("#macro(show $x)$x.size()#end#show([1,2,3]) #show({'a':1})")
t("#macro(setit)#set($global = 'g')#end#setit()$global")
t("#macro(first)1#end#macro(first)2#end#first()")
# --- #define, #evaluate
t("#define($b)B[$v]#end#set($v = 1)$b#set($v = 2)$b")
t("#evaluate('#set($q = 5)$q')$q")
t("#set($t = '$context.stage')#evaluate($t)")
t("#evaluate(\"#foreach($i in [1,2])$i#end\")")
# --- comments and literal blocks
t("a## comment\nb")
t("a #* multi\nline *# b #** doc *# c")
t("#[[ $not #if(parsed) ]]# after")
t("##first\n##second\nthird")
t("x ## trailing")
# --- strings and literals
t("#set($a = \"double\")#set($b = 'single')$a $b")
t("#set($a = 'it''s')$a #set($b = \"say \"\"hi\"\"\")$b")
t("#set($a = \"tab\\there\")$a")
t("#set($a = \"\")[$a] #set($b = '')[$b]")
t("#set($n = 007)$n #set($f = 1.50)$f #set($g = -3)$g #set($h = -0.5)$h")
t("#set($b = 2147483647)#set($c = $b + 1)$c #set($d = 9223372036854775807)$d")
t("#set($x = 1e3)$x")
t("#set($t = true)#set($f = false)$t $f")
# --- arithmetic
t("#set($a = 10)#set($b = 3)#set($r = $a + $b)$r #set($r = $a - $b)$r #set($r = $a * $b)$r #set($r = $a / $b)$r #set($r = $a % $b)$r")
t("#set($r = 10.0 / 4)$r #set($r = 10 / 4.0)$r #set($r = 1.5 * 2)$r #set($r = 0.1 + 0.2)$r #set($r = 7.5 % 2)$r")
t("#set($r = -7 / 2)$r #set($r = -7 % 2)$r #set($r = 7 / -2)$r")
t("#set($r = 'a' + 1)$r #set($r = 1 + 'a')$r #set($r = 'a' + 'b')$r #set($r = 'x' + true)$r")
t("#set($r = 5)#set($r = $r + $nope)[$r] #set($s = 1 / 0)[$s] #set($u = 'x' - 1)[$u]")
t("#set($r = (1 + 2) * 3)$r #set($r = 1 + 2 * 3)$r #set($r = 10 - 2 - 3)$r #set($r = 100 / 10 / 5)$r")
t("#set($n = $input.path('$.nested.n') + 1)$n #set($p = $input.path('$.num') * 2)$p")
t("#set($i = $input.params('n'))#set($j = $i + 1)$j")
t("#set($r = 1000000 * 1000000)$r #set($r = 0.1 * 3)$r #set($r = 100.0)$r #set($r = 1.0E-5 * 1)$r")
t("#set($r = 12345678.9 * 1)$r #set($r = 0.001 * 1)$r #set($r = 0.0001 * 1)$r")
# --- ranges, lists, maps
t("#set($r = [1..4])$r $r.size() #set($e = [])$e $e.size() $e.isEmpty()")
t("#set($l = [1, 'two', 3.0, true, [4], {'k': 'v'}])$l")
t("#set($m = {'a': 1, 'b': 'two', 'c': [3], 'd': {'e': 5}})$m $m.size() $m.keySet() $m.values()")
t("#set($m = {})$m.put('k', 1)$m.put('k', 2) $m #set($x = $m.put('z', 3))[$x] $m")
t("#set($m = {'a':1})$m.containsKey('a') $m.containsKey('b') $m.containsValue(1) $m.remove('a') $m $m.isEmpty()")
t("#set($l = [])$l.add(1) $l.add('x') $l $l.size() $l.remove(0) $l $l.contains('x') $l.indexOf('x')")
t("#set($l = [3, 1, 2])$l.get(0) $l.subList(1, 3) $l.set(0, 9) $l $l.isEmpty() $l.lastIndexOf(2)")
t("#set($l = [1, 2])#set($x = $l.add(3))$l #set($y = $l.addAll([4, 5]))$l $y")
t("#set($l = ['a'])$l.get(5)")
t("#set($m = {'k': 'v'})$m.k $m.get('k') $m['k'] $m.nope [$m.get('nope')]")
t("#set($m = {1: 'one', 'two': 2})$m")
t("#set($m = {'a': $context.stage, $context.stage: 'x'})$m")
t("#set($l = [$context.stage, $input.params('id')])$l")
# --- String methods
t("#set($s = 'Hello, World')$s.length() $s.toUpperCase() $s.toLowerCase() $s.substring(7) $s.substring(0, 5) $s.charAt(4)")
t("#set($s = 'Hello, World')$s.indexOf('o') $s.indexOf('o', 5) $s.lastIndexOf('o') $s.indexOf('zz') $s.contains('World') $s.startsWith('Hell') $s.endsWith('d')")
t("#set($s = 'Hello')$s.replace('l', 'L') $s.replaceAll('l+', '_') $s.replaceFirst('l', '') $s.matches('H.*o') $s.matches('ell')")
t("#set($s = 'a1b22c333')$s.replaceAll('[0-9]+', '#') $s.replaceAll('([a-z])([0-9])', '$2$1') $s.split('[0-9]+').size()")
t("#set($s = $input.path('$.csv'))#foreach($p in $s.split(','))[$p]#end $s.split(',').size() $s.split(',', -1).size() $s.split(',', 2).size()")
t("#set($s = $input.path('$.spaces'))[$s.trim()] [$s] $s.isEmpty() $input.path('$.empty').isEmpty() $s.empty")
t("#set($s = 'abc')$s.equals('abc') $s.equals('ABC') $s.equalsIgnoreCase('ABC') $s.concat('def') $s.compareTo('abd') $s.compareTo('ab')")
t("#set($s = 'a.b.c')$s.split('\\.').size() $s.split('.').size() $s.replace('.', '/')")
t("$input.path('$.name').replaceAll(\"'\", \"\\\\'\") $input.path('$.name').replace(\"'\", \"''\")")
t("#set($s = 'café ☃')$s.length() $s.toUpperCase() $s.substring(5) $s.indexOf('☃')")
t("$input.path('$.unicode').length() $input.path('$.unicode').substring(0, 4)")
t("#set($s = 'abc')$s.substring(5)")
t("#set($s = 'abc')$s.charAt(10)")
t("#set($s = 'x')$s.nosuchmethod() [$s.nosuchmethod()] #if($s.nosuchmethod())T#else F#end")
t("#set($s = 'x')$s.hashCode() 'abc'.hashCode()")
t("#set($n = 5)$n.toString() $n.intValue() $n.doubleValue() #set($d = 2.5)$d.intValue() $d.toString()")
t("#set($b = true)$b.toString() $b.booleanValue()")
t("$input.path('$.nums').size() $input.path('$.nums').get(0) $input.path('$.nums').contains(1) $input.path('$.list').indexOf('b')")
t("$input.path('$.nested').size() $input.path('$.nested').keySet() $input.path('$.nested').containsKey('k') $input.path('$.nested').get('n')")
t("$input.path('$.pets').get(0).type $input.path('$.pets')[0].get('price')")
# --- $input
t("$input.json('$')")
t("$input.json('$.name') $input.json('$.list') $input.json('$.nested') $input.json('$.num') $input.json('$.flag') $input.json('$.nothing') $input.json('$.missing')")
t("$input.json('$.quote') $input.json('$.unicode') $input.json('$.url')")
t("$input.path('$.quote') $input.path('$.unicode') $input.path('$.big') $input.path('$.neg') $input.path('$.num')")
t("$input.path('$') ")
t("$input.path('$.pets') | $input.path('$.pets[0]') | $input.path('$.pets[*].type') | $input.path('$..price')")
t("$input.json('$.pets[0].type') $input.json('$.pets[-1].id') $input.json('$.pets[0:1]') $input.json('$.list[1:]') $input.json('$.list[:2]')")
t("$input.json('$.pets[?(@.price > 200)]') $input.json('$.pets[?(@.type == \"cat\")].id') $input.json(\"$.pets[?(@.type == 'dog')]\")")
t("$input.json('$.nested.arr[?(@.x)]') $input.json('$.nested.arr[?(@.y)]') $input.json('$.list[0,2]') $input.json(\"$['name','num']\")")
t("$input.json('$.nested[*]') $input.json('$.nested.*') $input.json('$..x') $input.json('$..t')")
t("$input.json('name') $input.json('nested.k') $input.json('$[\"nested\"][\"k\"]') $input.json(\"$['list'][0]\")")
t("$input.json('$.list[5]') $input.json('$.nested.k.deeper') $input.json('$.nums[?(@ > 1)]')")
t("$input.path('$.nums[?(@ > 1)]') $input.path('$.list.length()') $input.path('$.missing.x')")
t("$input.json('$.pets[?(@.price > 100 && @.id < 2)].id') $input.json('$.pets[?(@.id == 1 || @.id == 2)].id')")
t("$input.params() ")
t("$input.params('id') $input.params('name') $input.params('X-Trace') $input.params('x-trace') [$input.params('nope')] $input.params('n')")
t("$input.params().path $input.params().querystring.name $input.params().header.get('User-Agent') $input.params().get('path').get('proxy')")
t("#foreach($k in $input.params().header.keySet())$k=$input.params().header.get($k);#end")
t("$input.body.length() #set($b = $input.body)$b.substring(0, 10)")
t("[$input.body] [$input.json('$')] [$input.path('$')] [$input.path('$.a')]", "")
t("[$input.body] [$input.json('$')] [$input.path('$')]", "plain text body")
t("[$input.body] [$input.json('$')] [$input.path('$')] $input.json('$[0]') $input.path('$').size()", "[1, 2, 3]")
t("$input.json('$') $input.path('$')", "42")
t("$input.json('$') $input.path('$')", "\"just a string\"")
t("$input.json('$') $input.path('$.a')", "{\"a\": null}")
t("$input.json('$.a') $input.path('$.a')", "{\"a\": 1.0, \"b\": 1e2, \"c\": 123456789012345678901234567890}")
t("$input.json('$')", "{\"s\": \"\\u0001\\u007f\\u2028 \\/ \\\\ \\\" é\"}")
t("$input.json('$')", "{ \"a\" : [ 1 , { \"b\" : [ ] } , { } ] }")
# --- $util
t("$util.escapeJavaScript($input.json('$'))")
t("$util.escapeJavaScript(\"it's \\\"quoted\\\" / \\\\ back\") $util.escapeJavaScript($input.path('$.quote'))")
t("$util.escapeJavaScript($input.path('$.unicode')) $util.escapeJavaScript('') [$util.escapeJavaScript($nope)]")
t("$util.urlEncode('a b+c&d=e/f?g#h~i*j.k-l_m') $util.urlEncode('café ☃') $util.urlEncode('')")
t("$util.urlDecode('a+b%20c%26d%3De') $util.urlDecode('caf%C3%A9') $util.urlDecode('100%')")
t("$util.base64Encode('hello world') $util.base64Encode('café') $util.base64Encode('') $util.base64Encode('ab') $util.base64Encode('a')")
t("$util.base64Decode('aGVsbG8gd29ybGQ=') $util.base64Decode('Y2Fmw6k=') $util.base64Decode('YWI')")
t("$util.base64Decode('!!!')")
t("#set($o = $util.parseJson($input.path('$.errorMessage')))$o $o.key1 $o.key2.arr $o.key2.arr[1] $o.key2.arr.size()")
t("#set($o = $util.parseJson('[1, {\"a\": 2}]'))$o $o[1].a $o.size() #set($p = $util.parseJson('\"s\"'))$p #set($q = $util.parseJson('12'))$q")
t("$util.parseJson('{bad')")
t("$util.nosuch('x') [$util.escapeJavaScript()]")
t("$util.escapeJavaScript($input.path('$.nested'))")
t("{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"arn:aws:states:us-east-1:123456789012:stateMachine:X\"}")
# --- overrides
t("#set($context.responseOverride.status = 201)#set($context.responseOverride.header.X-A = 'b')ok $context.responseOverride")
t("#set($context.requestOverride.querystring.q = 'v')$context.requestOverride.querystring.q")
# --- whitespace and newlines
t("line1\n#set($a = 1)\nline2\n  #set($b = 2)\nline3")
t("{\n  \"a\": 1,\n  #if(false)\n  \"b\": 2,\n  #end\n  \"c\": 3\n}")
t("#foreach($i in [1,2])\n#if($i == 1)\none\n#else\nother\n#end\n#end")
t("a\r\n#set($x = 1)\r\nb\r\n")
t("   #set($x = 1)   \n   $x")
t("$x #set($y = 1) $y")
t("#set($a = 1) #set($b = 2) $a$b")
t("text #if(true) yes #end text")
t("#if(true)\n\n#end\n\nx")
t("\t#foreach($i in [1])\t\n\t$i\t\n\t#end\t\n")
t("#macro(m $x)\n  [$x]\n#end\n#m(1)\n#m(2)\nend")
t("## only a comment")
t("")
t("no directives at all")
t("# not a directive #1 #  #{ #} ## x")
t("#set($d = '$')$d #set($h = '#')$h")
t("$context.stage#if(true)x#end$context.stage")
t("#set($x = 5)#if($x > 3)\n  big\n#elseif($x > 1)\n  medium\n#else\n  small\n#end")
# --- parse errors
t("#if(true)no end")
t("#end")
t("#else")
t("#foreach($x [1])#end")
t("#set($x 1)")
t("#set(x = 1)")
t("$a.b(1 2)")
t("#if()x#end")
t("#set($x = )")
t("#foreach($x in [1,2)#end")
t("#set($x = {'a' 1})")
t("#macro()#end")
t("#set($x = 'unterminated)")

# --- Velocity 1.7 lexer states: a `$` straight after `$a.b` buries the after-a-dot state, which
# returns when the next reference or directive ends ("(" then opens arguments, "##" is text);
# `@` in directive names; block macros; blanks before a directive's "(".
for _template in [
    "$a.empty$l('",
    "$a.empty\\$l('",
    "$a$l('",
    "$a.b()\\$l('",
    "$l('",
    "$a.empty\\$l(x)",
    "$a.empty\\#l('",
    "$a.empty#l('",
    "$a.b.c$l('",
    "${a.b}$l('",
    "$a.empty $l('",
    "$a.empty.x$l(",
    "$a[0]$l('",
    "$a.b[0]$l('",
    "$a.b()[0]$l('",
    "$a.empty$l(",
    "$a.empty$l()",
    "$a.empty$!l('",
    "$a.empty${l}('",
    "$a.empty\\\\$l('",
    "$a.b$l.c()$m('",
    "$a.b$c$d('",
    "$a.b$c.d$e()",
    "$a.b$c x('",
    "$a.b$c,('",
    "$a.b$c\n('",
    "$a.b$c-('",
    "$a.b$c(1",
    "$a.b$c('x'",
    "$a.b$c(x",
    "$a.b$c(x.y)",
    "$a.b$c( ",
    "$a.b$c(,",
    "$a.b$c(true",
    "$a.b$c(+",
    "$a.b$c(\n",
    "$a.b$c[0]('",
    "$a.b$c}x",
    "$a.b#set($x = 1)('",
    "$a.b #set($x = 1)('",
    "$a#set($x = 1)('",
    "$a.b#* c *#('",
    "$a.b#[[ c ]]#('",
    "$a.b#if(true)x#end('",
    "$a.b$c#if(true)x#end('",
    "$a.b$c#if(true)$d#end('",
    "#set($x='X')$a.b$c#if(true)x#end",
    "$a.b$c#if(true)#end[0]",
    "$l.m('",
    "\\#l('",
    "x\\#l('",
    "$a\\#l('",
    "$a.b\\#l('",
    "$a.b()\\#l('",
    "$a.b\\#if(true)x",
    "$a.b\\\\#l('",
    "$a.b\\x('",
    "$a.b\\('",
    "\\#if('",
    "\\#if(true)x#end",
    "\\\\\\#l('",
    "\\\\#l('",
    "\\#{l}('",
    "\\#l ('",
    "#if(true)\\#else('#end",
    "\\#set('",
    "$a.b\\#set('",
    "\\#@x('",
    "$a.b$('",
    "$a.b$ ('",
    "$a.b$",
    "$a.b$!('",
    "$a.b$$c('",
    "$a.b[0][1]$c('",
    "$a[0].b$c('",
    "$!a.b$c('",
    "${a}.b$c('",
    "$a.b$c#if(true)x(#end",
    "$a.b$c#if(true).x#end",
    "$a.b$c#if(true){#end",
    "#if(true)x#else@(#end",
    "#if(true)x#else@#end",
    "#if(true)x#else@y#end",
    "#if(false)x#else@y#end",
    "#if(true)x#else@()#end",
    "#if(true)x#else@(1)y#end",
    "#if(true)x#else@ (#end",
    "#if(true)x#else@\n(#end",
    "#if(true)x#else1(#end",
    "#if(true)x#else_(#end",
    "#if(true)x#elsex#end",
    "#if(true)x#{else}@(#end",
    "#if(true)x#else @(#end",
    "#if(true)x#else\n@(#end",
    "#if(true)@(#end",
    "#else@",
    "#else@(",
    "#end@",
    "#if(true)x#end@",
    "#if(true)x#end@\n#end",
    "#set@",
    "#set@($x=1)",
    "#if@(true)x#end",
    "#elseif@",
    "#if(true)x#elseif@(true)y#end",
    "#stop@",
    "#foo(#end",
    "#foo@(1)",
    "#@foo()x#end",
    "#@foo x#end",
    "#@foo",
    "x#",
    "#",
    "#@foo()x$a.empty#end",
    "#@foo($a.empty 'q')x#end y",
    "#macro(foo)[$bodyContent]#end#@foo()x#end",
    "#macro(foo $p)[$p|$bodyContent]#end#@foo('P')x#end",
    "#@foo(\n)x#end",
    "#@foo()x#else y#end",
    "#@foo()#@bar()x#end#end",
    "#foo()x#end",
    "$a.b$c.d()(,",
    "$c.d()(,",
    "$a.b $c.d()(,",
    "$a.b()$c.d()(,",
    "#if(true)$a.b$c.d()(#end,",
    "#if(true)$a.b$c.d()(#end",
    "#if(true)$a.b$c.d()(#end x",
    "#if(true)$a.b$c.d()(#end'x'",
    "#if(true)$a.d()$c.d()(#end,",
    "#if(true)$a.b $c.d()(#end,",
    "$a.b#if(true)$c.d()(#end,",
    "$a.b$x#if(true)\n$c.d()#else\n$e.f($g.h('k'))(#end,",
    "$a.b$x#if(false)\n$c.d()#else\n$e.f($g.h('k'))(#end,",
    "$a.b$x#if(true)\n$c.d()#else\n$e.f($g.h('k')) (#end,",
    "$a.b$c.d()(1,",
    "$a.b$c.d()('x')",
    "$a.b$c.d()(1",
    "$a.b$c.d()[0](,",
    "$a.b$c.d() (,",
    "$a.b## c\nX",
    "$a.b## c",
    "$a.b##\n",
    "$a.b[0]## c\nX",
    "$a.b.c## c\nX",
    "$a## c\nX",
    "$a.b()## c\nX",
    "${a.b}## c\nX",
    "$a.b ## c\nX",
    "$a.b\n## c\nX",
    "$a.b## c\n## d\nX",
    "$a.b##foo",
    "$a.b##",
    "#if(true)$a.b##end",
    "$a.b##if(true)x#end",
    "#if(false)#else$a.b$c.d()#end\n## c\n(",
    "#if(false)#else$c.d()#end\n## c\n(",
    "#if(false)#else$a.b $c.d()#end\n## c\n(",
    "$a.b$c#if(true)#end## c\nX",
    "$a.b$c#if(true)x#end## c\nX",
    "$a.b#set($x=1)## c\nX",
    "$a.b$c(## c\n",
    "$a[## c\n]",
    "#if(true## c\n)x#end",
    "$a.b$c## x\n('",
    "$a.b$c## x\ny",
    "$a.b$c## x\n## y\nz",
    "$a.b$c#* x *### y\nz",
    "$a.b##foo(1)",
    "$a.b#if(true)## c\n#end",
    "$a.b## $a.empty x\nX",
    "$a.b##\t$a.empty\nX",
    "#if\n(true)x#end",
    "#if \n (true)x#end",
    "#foreach\n($i in [1..2])$i#end",
    "#set\n($x = 1)$x",
    "#macro(foo)F#end#foo\n()",
    "#foo\n(1)",
    "#foo\n",
    "#foo \nx",
    "#macro(foo)F#end#foo\nx",
    "#elseif\n(true)",
    "#define\n($d)D#end$d",
    "#@foo\n()x#end",
]:
    t(_template)

# --- Jayway 2.0 filter comparisons across types: literals are text; the right operand is compared
# with the left (strings as strings, a number against text as decimals, booleans against "true").
for _template, _body in [
    ("$input.json(\"$.arr[?(@.x > 1)]\")", "{\"arr\":[{\"x\":\"abc\"}]}"),
    ("$input.json(\"$.arr[?(@.x < 9)]\")", "{\"arr\":[{\"x\":\"10\"}]}"),
    ("$input.json(\"$.arr[?(@.x == 1)]\")", "{\"arr\":[{\"x\":\"1.0\"}]}"),
    ("$input.json(\"$.arr[?(@.x == 1.0)]\")", "{\"arr\":[{\"x\":\"1.0\"}]}"),
    ("$input.json(\"$.arr[?(@.x == '1')]\")", "{\"arr\":[{\"x\":\"1\"}]}"),
    ("$input.json(\"$.arr[?(@.x == abc)]\")", "{\"arr\":[{\"x\":\"abc\"}]}"),
    ("$input.json(\"$.arr[?(@.x == true)]\")", "{\"arr\":[{\"x\":\"true\"}]}"),
    ("$input.json(\"$.arr[?(@.x == true)]\")", "{\"arr\":[{\"x\":\"TRUE\"}]}"),
    ("$input.json(\"$.arr[?(@.x == null)]\")", "{\"arr\":[{\"x\":\"null\"}]}"),
    ("$input.json(\"$.arr[?(@.x < 1)]\")", "{\"arr\":[{\"x\":\"null\"}]}"),
    ("$input.json(\"$.arr[?(@.x > null)]\")", "{\"arr\":[{\"x\":\"\"}]}"),
    ("$input.json(\"$.arr[?(@.x == '1')]\")", "{\"arr\":[{\"x\":1}]}"),
    ("$input.json(\"$.arr[?(@.x == 1.0)]\")", "{\"arr\":[{\"x\":1}]}"),
    ("$input.json(\"$.arr[?(@.x == '1.00')]\")", "{\"arr\":[{\"x\":1.0}]}"),
    ("$input.json(\"$.arr[?(@.x == 1e2)]\")", "{\"arr\":[{\"x\":100}]}"),
    ("$input.json(\"$.arr[?(@.x < .5)]\")", "{\"arr\":[{\"x\":0.5}]}"),
    ("$input.json(\"$.arr[?(@.x > 12345678901234567890)]\")", "{\"arr\":[{\"x\":12345678901234567891}]}"),
    ("$input.json(\"$.arr[?(@.x == 9007199254740993)]\")", "{\"arr\":[{\"x\":9007199254740993.0}]}"),
    ("$input.json(\"$.arr[?(@.x > 'b')]\")", "{\"arr\":[{\"x\":2}]}"),
    ("$input.json(\"$.arr[?(@.x == true)]\")", "{\"arr\":[{\"x\":2}]}"),
    ("$input.json(\"$.arr[?(@.x != '')]\")", "{\"arr\":[{\"x\":2}]}"),
    ("$input.json(\"$.arr[?(@.x > 1)]\")", "{\"arr\":[{\"x\":1e400}]}"),
    ("$input.json(\"$.arr[?(@.x != null)]\")", "{\"arr\":[{\"x\":1e400}]}"),
    ("$input.json(\"$.arr[?(@.x == 1)]\")", "{\"arr\":[{\"x\":false}]}"),
    ("$input.json(\"$.arr[?(@.x == 'b')]\")", "{\"arr\":[{\"x\":false}]}"),
    ("$input.json(\"$.arr[?(@.x > 1)]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(@.x == TRUE)]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(@.x >= false)]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(@.x < true)]\")", "{\"arr\":[{\"x\":false}]}"),
    ("$input.json(\"$.arr[?(@.x == 'true')]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(@.x == null)]\")", "{\"arr\":[{\"x\":null}]}"),
    ("$input.json(\"$.arr[?(@.x != 1)]\")", "{\"arr\":[{\"x\":null}]}"),
    ("$input.json(\"$.arr[?(@.x >= null)]\")", "{\"arr\":[{\"x\":null}]}"),
    ("$input.json(\"$.arr[?(@.x != 1)]\")", "{\"arr\":[{\"x\":{\"k\":1}}]}"),
    ("$input.json(\"$.arr[?(@.x > null)]\")", "{\"arr\":[{\"x\":{\"k\":1}}]}"),
    ("$input.json(\"$.arr[?(@.x == @.x)]\")", "{\"arr\":[{\"x\":[1]}]}"),
    ("$input.json(\"$.arr[?(@.x != 1)]\")", "{\"arr\":[{\"y\":1}]}"),
    ("$input.json(\"$.arr[?(@.x == null)]\")", "{\"arr\":[{\"y\":1}]}"),
    ("$input.json(\"$.arr[?(1 == @.x)]\")", "{\"arr\":[{\"x\":1}]}"),
    ("$input.json(\"$.arr[?(1 == @.x)]\")", "{\"arr\":[{\"x\":\"1\"}]}"),
    ("$input.json(\"$.arr[?('b' == @.x)]\")", "{\"arr\":[{\"x\":2}]}"),
    ("$input.json(\"$.arr[?('b' < @.x)]\")", "{\"arr\":[{\"x\":\"c\"}]}"),
    ("$input.json(\"$.arr[?(true == @.x)]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(null < @.x)]\")", "{\"arr\":[{\"x\":\"x\"}]}"),
    ("$input.json(\"$.arr[?(@.x == @.y)]\")", "{\"arr\":[{\"x\":1, \"y\":\"1\"}]}"),
    ("$input.json(\"$.arr[?(@.x == @.y)]\")", "{\"arr\":[{\"x\":\"1\", \"y\":1}]}"),
    ("$input.json(\"$.arr[?(@.x == @.y)]\")", "{\"arr\":[{\"x\":1, \"y\":\"b\"}]}"),
    ("$input.json(\"$.arr[?(@.x == @.y)]\")", "{\"arr\":[{\"x\":true, \"y\":\"true\"}]}"),
    ("$input.json(\"$.arr[?(@.x == @.y)]\")", "{\"arr\":[{\"x\":\"true\", \"y\":true}]}"),
    ("$input.json(\"$.arr[?(@.x =~ /1.*/)]\")", "{\"arr\":[{\"x\":1.0}]}"),
    ("$input.json(\"$.arr[?(@.x =~ /tr.e/)]\")", "{\"arr\":[{\"x\":true}]}"),
    ("$input.json(\"$.arr[?(@.x =~ /.*/)]\")", "{\"arr\":[{\"x\":null}]}"),
    ("$input.json(\"$.arr[?(@.x =~ 'abc')]\")", "{\"arr\":[{\"x\":\"abc\"}]}"),
]:
    t(_template, _body)

# --- json-smart keeps a decimal written in more than 18 characters exact (BigDecimal): printed as
# BigDecimal.toString, compared exactly. (Arithmetic on it is read as a double: not reproduced.)
_BIG = "{\"x\": 0.30000000000000001, \"e\": 1.23456789012345678e5, \"n\": -12345678901234567.5, \"s\": 123456789012345.6789, \"t\": 0.00000000000000001, \"u\": 1.0000000000000000000e-10, \"v\": 12345678901234567e+5, \"w\": -0.000000000000000000, \"z\": 1.5000000000000000000}"
for _template in [
    "[$input.json('$.x')][$input.path('$.x')]",
    "[$input.json('$.e')][$input.path('$.e')][$input.json('$.n')][$input.json('$.s')]",
    "[$input.json('$.t')][$input.json('$.u')][$input.json('$.v')][$input.json('$.w')][$input.json('$.z')]",
    "[$input.json('$')]",
    "$input.json(\"$[?(@.x == 0.3)]\")",
    "[$input.path('$.z')][$input.path('$.t')]",
    "#if($input.path('$.x') == 0.3)T#{else}F#end#if($input.path('$.x') > 0.3)T#{else}F#end#if($input.path('$.z') == 1.5)T#{else}F#end#if($input.path('$.x') < 1)T#{else}F#end",
    "#if($input.path('$.n') < 0)T#{else}F#end#if($input.path('$.z') == $input.path('$.z'))T#{else}F#end",
]:
    t(_template, _BIG)
