-- tests/gen/test_template.lua: the template engine's contract (run by `make test`).
--   lua5.4 tests/gen/test_template.lua
package.path = "gen/?.lua;" .. package.path
local template = require("template")
local spec = require("spec")
local passed, failed = 0, 0
local function check(name, cond, detail)
  if cond then passed = passed + 1 else failed = failed + 1; print("FAIL " .. name .. ": " .. tostring(detail)) end
end

-- Substitution, Lua lines, $$ escapes and #line directives.
local out = template.compile("int a = ${x};\n$for i = 1, 2 do\nint b${i};\n$end\nchar *s = \"$$\";\n", "t.c.in")({ x = 42 })
check("substitutes", out:find("int a = 42;", 1, true), out)
check("loops", out:find("int b1;", 1, true) and out:find("int b2;", 1, true), out)
check("escapes $$", out:find('char *s = "$";', 1, true), out)
check("line directives point at the template", out:find('#line 3 "t.c.in"', 1, true) and out:find('#line 5 "t.c.in"', 1, true), out)

-- A Lua error inside a template names the template and its line.
local ok, err = pcall(template.compile("ok\n\n$error('boom')\n", "bad.c.in"), {})
check("lua error names template:line", not ok and tostring(err):find("bad.c.in:3", 1, true), err)
-- A nil substitution is an error, not the text "nil".
ok, err = pcall(template.compile("x ${missing_name}\n", "nil.c.in"), {})
check("nil substitution fails", not ok and tostring(err):find("nil.c.in:1", 1, true), err)

-- The real templates refuse impossible arguments at generation time.
ok, err = pcall(template.render_file, "templates/gn_nchw.c.in",
  { K = { name = "k", vec_header = "gnk_vec_scalar.h", act = "silu", groups = 3, channels = 10, unroll = 2, store = "st" } })
check("template asserts groups divide channels", not ok and tostring(err):find("gn_nchw.c.in", 1, true), err)

-- Spec parsing: good lines, and errors that name file:line.
local s = spec.parse("# c\nproblem a count=2 n=1 c=64 h=8 w=8 groups=32 eps=1e-6 act=silu\n", "x.spec")
check("spec problem", #s.problems == 1 and s.problems[1].spatial == 64 and s.problems[1].act == "silu", "parse")
ok, err = pcall(spec.parse, "problem a n=1 c=10 h=1 w=1 groups=3\n", "y.spec")
check("spec rejects groups not dividing c", not ok and tostring(err):find("y.spec:1", 1, true), err)
ok, err = pcall(spec.parse, "problem a n=1 c=8 h=1 w=1 groups=2 act=gelu\n", "z.spec")
check("spec rejects unknown act", not ok and tostring(err):find("z.spec:1", 1, true), err)

-- kernel lines: the SiLU form is a variant of SiLU kernels only.
s = spec.parse("kernel layout=nchw isa=avx512 groups=32 channels=320 act=silu unroll=4 silu=div\n", "k.spec")
check("spec kernel silu=div", #s.kernels == 1 and s.kernels[1].silu == "div", "parse")
ok, err = pcall(spec.parse, "kernel layout=nchw isa=avx512 groups=32 channels=320 act=none unroll=4 silu=div\n", "k2.spec")
check("spec rejects silu=div without act=silu", not ok and tostring(err):find("k2.spec:1", 1, true), err)
ok, err = pcall(template.render_file, "templates/gn_nchw.c.in",
  { K = { name = "k", vec_header = "gnk_vec_avx512.h", act = "none", unroll = 4, store = "st", silu = "div" } })
check("template refuses silu=div without SiLU", not ok and tostring(err):find("gn_nchw.c.in", 1, true), err)

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
