"""Random mapping templates over the grammar, and random JSON bodies, for the differential test.
Seeded: the same seed gives the same cases."""
import json
import random

IDENT = ["a", "b", "x", "item", "n", "s", "m", "l", "my-var", "v_1"]
KEYS = ["k", "name", "list", "n", "flag", "nested", "arr", "x", "empty", "nothing"]
STRINGS = ["", "a", "hello", "Hello World", "x,y,,z", "  pad  ", "a'b", 'q"q', "café", "1", "true", "a.b.c", "\\n"]
PATHS = ["$", "$.k", "$.name", "$.list", "$.list[0]", "$.list[1]", "$.nested", "$.nested.arr", "$.nested.arr[0].x",
         "$.n", "$.flag", "$.nothing", "$.missing", "$..x", "$.list[*]", "$.nested.arr[?(@.x > 1)]", "$.empty", "k", "$.arr[1:]"]
STRING_METHODS = [("length", 0), ("toUpperCase", 0), ("toLowerCase", 0), ("trim", 0), ("isEmpty", 0),
                  ("substring", 1), ("indexOf", 1), ("contains", 1), ("startsWith", 1), ("replace", 2),
                  ("replaceAll", 2), ("split", 1), ("equals", 1), ("concat", 1), ("charAt", 1)]
LIST_METHODS = [("size", 0), ("get", 1), ("isEmpty", 0), ("contains", 1), ("indexOf", 1)]
MAP_METHODS = [("size", 0), ("get", 1), ("containsKey", 1), ("keySet", 0), ("values", 0), ("isEmpty", 0)]


def rand_json(r, depth=0):
    kind = r.random()
    if depth > 2 or kind < 0.45:
        return r.choice([r.randint(-5, 100), r.choice(STRINGS), r.choice([True, False, None]),
                         round(r.uniform(-10, 10), r.randint(0, 3)), r.choice(STRINGS) + str(r.randint(0, 9))])
    if kind < 0.7:
        return [rand_json(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {r.choice(KEYS): rand_json(r, depth + 1) for _ in range(r.randint(0, 5))}


def rand_body(r):
    body = {k: rand_json(r, 1) for k in KEYS if r.random() < 0.7}
    body.setdefault("nested", {"arr": [{"x": r.randint(0, 3)}, {"x": r.randint(0, 3)}], "k": "v"})
    body.setdefault("list", [rand_json(r, 3) for _ in range(r.randint(0, 4))])
    return json.dumps(body)


class Gen:
    def __init__(self, r):
        self.r = r
        self.depth = 0

    def string_lit(self):
        s = self.r.choice(STRINGS).replace("'", "''")
        if self.r.random() < 0.5:
            return "'" + s + "'"
        s = s.replace('"', '""')
        if self.r.random() < 0.3:
            s += " $" + self.r.choice(IDENT)
        return '"' + s + '"'

    def literal(self):
        c = self.r.random()
        if c < 0.3:
            return str(self.r.randint(-3, 20))
        if c < 0.4:
            return self.r.choice(["1.5", "0.25", "-2.0", "10.0"])
        if c < 0.5:
            return self.r.choice(["true", "false"])
        if c < 0.8:
            return self.string_lit()
        if c < 0.9:
            return "[" + ", ".join(self.primary() for _ in range(self.r.randint(0, 3))) + "]"
        if c < 0.95:
            return "[%d..%d]" % (self.r.randint(-2, 3), self.r.randint(-2, 5))
        return "{" + ", ".join("'%s': %s" % (self.r.choice(KEYS), self.primary()) for _ in range(self.r.randint(0, 3))) + "}"

    def reference(self, allow_methods=True):
        r = self.r
        c = r.random()
        if c < 0.25:
            base = "$input.path('%s')" % r.choice(PATHS)
        elif c < 0.35:
            base = "$input.json('%s')" % r.choice(PATHS)
        elif c < 0.4:
            base = "$input.params('%s')" % r.choice(["id", "name", "X-Trace", "nope"])
        elif c < 0.45:
            base = "$context." + r.choice(["stage", "requestId", "identity.sourceIp", "nope", "httpMethod"])
        elif c < 0.5:
            base = "$stageVariables." + r.choice(["env", "nope"])
        elif c < 0.55:
            base = "$util." + r.choice(["escapeJavaScript", "urlEncode", "base64Encode"]) + "(" + self.primary(False) + ")"
        elif c < 0.6 and self.loop_vars:
            base = r.choice(["$foreach.index", "$foreach.count", "$foreach.hasNext", "$velocityCount", "$" + r.choice(self.loop_vars)])
        else:
            base = "$" + r.choice(IDENT)
        if allow_methods and r.random() < 0.4:
            name, n = r.choice(STRING_METHODS + LIST_METHODS + MAP_METHODS)
            args = ", ".join(self.arg() for _ in range(n))
            base += ".%s(%s)" % (name, args)
        elif r.random() < 0.15:
            base += "." + r.choice(KEYS)
        elif r.random() < 0.1:
            base += "[%d]" % r.randint(0, 2)
        if r.random() < 0.1:
            base = "$!" + base[1:]
        if r.random() < 0.08 and base.count("(") == 0:
            base = "${" + base[1:] + "}"
        return base

    def arg(self):
        c = self.r.random()
        if c < 0.5:
            return str(self.r.randint(0, 4))
        if c < 0.85:
            return "'" + self.r.choice(["a", "l", ",", "[0-9]", "x", "", "o"]) + "'"
        return self.reference(False)

    def primary(self, methods=True):
        return self.literal() if self.r.random() < 0.5 else self.reference(methods)

    def expr(self, depth=0):
        r = self.r
        if depth > 2 or r.random() < 0.4:
            return self.primary()
        op = r.choice(["+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "eq", "ne", "lt", "gt"])
        e = "%s %s %s" % (self.expr(depth + 1), op, self.expr(depth + 1))
        if r.random() < 0.2:
            e = "(" + e + ")"
        if r.random() < 0.1:
            e = "!" + e if e.startswith("(") else "!(" + e + ")"
        return e

    def text(self):
        return self.r.choice(["x", " ", "\n", "  ", "{\"a\": ", "}", ",", "\n  ", "hello ", "\t", "-", ".", ":", "'", '"', "(", ")", "@"])

    def block(self, n):
        return "".join(self.node() for _ in range(n))

    def node(self):
        r = self.r
        self.depth += 1
        try:
            c = r.random()
            if self.depth > 4 or c < 0.35:
                return self.text()
            if c < 0.6:
                return self.reference()
            if c < 0.7:
                ws = r.choice(["", " ", "  ", "\n", "\n  "])
                return ws + "#set($%s = %s)%s" % (r.choice(IDENT), self.expr(), r.choice(["", "\n", " ", "  \n"]))
            if c < 0.8:
                s = "#if(%s)%s%s" % (self.expr(), r.choice(["", "\n"]), self.block(r.randint(0, 3)))
                for _ in range(r.randint(0, 2)):
                    s += "#elseif(%s)%s" % (self.expr(), self.block(r.randint(0, 2)))
                if r.random() < 0.5:
                    s += "#else" + r.choice(["", "\n", " "]) + self.block(r.randint(0, 2))
                return s + "#end" + r.choice(["", "\n", " \n"])
            if c < 0.88:
                v = r.choice(["e", "i", "it"])
                self.loop_vars.append(v)
                src = r.choice(["$input.path('$.list')", "$input.path('$.nested.arr')", "[1..3]", "['a', 'b']",
                                "$input.path('$.nested')", "$input.path('$.missing')", "$%s" % r.choice(IDENT)])
                s = "#foreach($%s in %s)%s%s" % (v, src, r.choice(["", "\n"]), self.block(r.randint(1, 3)))
                if r.random() < 0.15:
                    s += "#if($foreach.count > 1)#break#end"
                self.loop_vars.pop()
                return s + "#end" + r.choice(["", "\n"])
            if c < 0.92:
                return r.choice(["## comment\n", "#* block *#", "#[[ raw $x ]]#", "\\$" + r.choice(IDENT), "\\#if"])
            if c < 0.96:
                return "$util.escapeJavaScript(%s)" % self.reference(False)
            return r.choice(["#macro(mm $p)[$p]#end", "#mm(%s)" % self.primary(False), "#evaluate('$context.stage')",
                             "#define($d)D$x#end$d"])
        finally:
            self.depth -= 1

    def template(self):
        self.loop_vars = []
        return self.block(self.r.randint(1, 8))


def cases(seed, count, params, context, stage):
    r = random.Random(seed)
    out = []
    for k in range(count):
        g = Gen(r)
        out.append({"id": "random-%d-%d" % (seed, k), "template": g.template(), "body": rand_body(r),
                    "params": params, "context": context, "stageVariables": stage})
    return out
