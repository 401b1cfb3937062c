-- gen/gnk_gen.lua: spec files -> specialized C kernels + the one kernel list.
--
-- Usage (from the repository root):
--   lua5.4 gen/gnk_gen.lua --out generated [--default A.spec,B.spec] SPEC...
--
-- Emits into <out>/:
--   kernels/<name>.c        one kernel per (dtype, layout, act, groups, channels, ISA, unroll, store,
--                           order, SiLU form)
--   gnk_kernels.inc         THE kernel list (X-macro); declarations, registry, tests
--                           and benchmarks all include it
--   kernels.mk              per-ISA source lists for the Makefile (per-file ISA flags)
--   gnk_default_workload.inc  the problems of the --default specs, embedded in gnk-run
-- Output is deterministic and a file is rewritten only when its content changes.
local script_dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = script_dir .. "/?.lua;" .. package.path

local template = require("template")
local spec = require("spec")
local ISAS = require("isa")

local GENERATOR = "gen/gnk_gen.lua"
local TEMPLATES = { nchw = "templates/gn_nchw.c.in", nhwc = "templates/gn_nhwc.c.in" }
local ACT_ORDER = { none = 1, silu = 2, relu = 3 }
local ACT_ENUM = { none = "GNK_ACT_NONE", silu = "GNK_ACT_SILU", relu = "GNK_ACT_RELU" }
local ACT_OP = { none = "gn", silu = "gnsilu", relu = "gnrelu" }
local DTYPES = { "f32", "f16", "bf16" }
local DTYPE_ORDER = { f32 = 1, f16 = 2, bf16 = 3 }
local DTYPE_ENUM = { f32 = "GNK_DTYPE_F32", f16 = "GNK_DTYPE_F16", bf16 = "GNK_DTYPE_BF16" }

local function die(msg) io.stderr:write("gnk_gen: ", msg, "\n"); os.exit(1) end

-- Command line.
local out_dir, default_specs, spec_paths = nil, {}, {}
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--out" then out_dir = arg[i + 1]; i = i + 1
    elseif a == "--default" then
      for p in arg[i + 1]:gmatch("[^,]+") do default_specs[#default_specs + 1] = p end
      i = i + 1
    elseif a:sub(1, 2) == "--" then die("unknown option " .. a)
    else spec_paths[#spec_paths + 1] = a end
    i = i + 1
  end
end
if not out_dir or #spec_paths == 0 then die("usage: gnk_gen.lua --out DIR [--default A,B] SPEC...") end

local isa_by_name = {}
for i, isa in ipairs(ISAS) do isa.order = i; isa_by_name[isa.name] = isa end

-- Target architectures: a kernel of an ISA with arch "x86" or "aarch64" is
-- compiled and listed only by builds for that architecture ("any": by all).
local ARCH_GUARD = { x86 = "defined(__x86_64__) || defined(__i386__)", aarch64 = "defined(__aarch64__)" }
for _, isa in ipairs(ISAS) do
  isa.arch = isa.arch or "any"
  if isa.arch ~= "any" and not ARCH_GUARD[isa.arch] then die("isa " .. isa.name .. ": unknown arch " .. isa.arch) end
end

-- Variant list: a kernel is data.
local kernels, seen = {}, {}
local function add_kernel(k)
  local isa = isa_by_name[k.isa] or die("unknown isa " .. tostring(k.isa))
  local shape = k.groups and string.format("g%dc%d", k.groups, k.channels) or "generic"
  k.store = k.store or "st"
  k.dtype = k.dtype or "f32"
  k.order = k.order or "blk"
  k.silu = k.silu or "rcp"
  if k.silu == "div" and (k.act ~= "silu" or not isa.silu_div) then die("silu=div needs act=silu and an ISA with v_silu_div") end
  k.name = string.format("gnk_%s_%s_%s_%s__%s_u%d%s%s%s", k.dtype, k.layout, ACT_OP[k.act], shape, k.isa, k.unroll,
    k.store == "nt" and "_nt" or "", k.order == "row" and "_row" or "", k.silu == "div" and "_div" or "")
  if seen[k.name] then return end
  seen[k.name] = true
  k.isa_t = isa
  k.vec_header = isa.header
  kernels[#kernels + 1] = k
end

local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end
local function lcm(a, b) return a // gcd(a, b) * b end

local function isa_has(isa, dtype)
  for _, d in ipairs(isa.dtypes) do if d == dtype then return true end end
  return false
end

-- Generic kernels: every (dtype, layout, act, ISA), so every valid problem has one.
for _, isa in ipairs(ISAS) do
  for _, dtype in ipairs(DTYPES) do
    if isa_has(isa, dtype) then
      for _, layout in ipairs({ "nchw", "nhwc" }) do
        for act in pairs(ACT_ENUM) do
          add_kernel({ dtype = dtype, layout = layout, act = act, isa = isa.name, unroll = isa.generic_unroll })
        end
      end
    end
  end
end
-- Specialized kernels for the problems of the specs: f32 in every tuning
-- variant; f16/bf16 (whose cost is the same loop plus conversions) in the
-- ISA's widest unroll only.
for _, path in ipairs(spec_paths) do
  local ok, s = pcall(spec.read, path)
  if not ok then die(s) end
  for _, p in ipairs(s.problems) do
    for _, isa in ipairs(ISAS) do
      for _, dtype in ipairs(DTYPES) do
        if isa_has(isa, dtype) and #isa.unrolls > 0 then
          local unrolls = dtype == "f32" and isa.unrolls or { isa.unrolls[#isa.unrolls] }
          -- channels-last: the widest unroll only (its statistics take no
          -- unroll; the apply variants are row order and streaming stores)
          for _, u in ipairs(unrolls) do
            add_kernel({ dtype = dtype, layout = "nchw", act = p.act, isa = isa.name, unroll = u,
                         groups = p.groups, channels = p.c })
          end
          add_kernel({ dtype = dtype, layout = "nhwc", act = p.act, isa = isa.name, unroll = unrolls[#unrolls],
                       groups = p.groups, channels = p.c })
          -- streaming-store variant (f32 channels-first): pays off once y leaves the cache;
          -- row-order apply variant (f32 channels-last): each row read left to right,
          -- with plain or (when rows are vector-aligned) streaming stores
          if dtype == "f32" and isa.stream ~= false then
            add_kernel({ layout = "nchw", act = p.act, isa = isa.name, unroll = isa.unrolls[#isa.unrolls],
                         groups = p.groups, channels = p.c, store = "nt" })
            add_kernel({ layout = "nhwc", act = p.act, isa = isa.name, unroll = isa.unrolls[#isa.unrolls],
                         groups = p.groups, channels = p.c, order = "row" })
            add_kernel({ layout = "nhwc", act = p.act, isa = isa.name, unroll = isa.unrolls[#isa.unrolls],
                         groups = p.groups, channels = p.c, order = "row", store = "nt" })
          end
        end
      end
    end
  end
  -- Channel-block kernels (f32 channels-last): a sample that exceeds what L2
  -- keeps beside its successor is run block by block of W channels (whole
  -- groups, a multiple of 16 and at least 64 so that rows stay vector-aligned
  -- and a row's block spans whole cache lines), by a kernel baked for W
  -- channels (runtime/gnk_kernel_abi.h "Channel blocks"). W = the smallest such
  -- width and twice it, where a block fits: the limits mirror the planner's
  -- block_candidate() on a 2 MiB L2 (half of it, 1 MiB), which times them in measure
  -- mode wherever a block fits in half of the running machine's L2.
  for _, p in ipairs(s.problems) do
    local D, UNIT = p.c // p.groups, 1 << 20
    local base = lcm(D, 16)
    while base < 64 do base = base * 2 end
    if p.c * p.spatial * 4 > UNIT then
      for _, w in ipairs({ base, 2 * base }) do
        if w < p.c and p.c % w == 0 and w * p.spatial * 4 <= UNIT then
          for _, isa in ipairs(ISAS) do
            if isa_has(isa, "f32") and #isa.unrolls > 0 and isa.stream ~= false then
              add_kernel({ layout = "nhwc", act = p.act, isa = isa.name, unroll = isa.unrolls[#isa.unrolls],
                           groups = w // D, channels = w, order = "row", store = "nt" })
            end
          end
        end
      end
    end
  end
  for _, k in ipairs(s.kernels) do add_kernel(k) end
end

-- The SiLU by division (ISAs with silu_div): a variant of every SiLU kernel
-- of the widest unroll, generic ones included. Which form is faster depends on
-- the core (AMD Zen 4: the division 16% faster per 16 floats, its divider
-- being off the FMA pipes the SiLU saturates; AMD Zen 3, AVX2: 2.44 against
-- 2.89 ns per 8 floats, build/silu_cost_avx2; Intel: vdivps was measured
-- slower), so measure mode times both and estimate mode asks the CPU
-- (gnk_cpu_silu_div(), runtime/cpu.c).
do
  local n = #kernels
  for i = 1, n do
    local k = kernels[i]
    local widest = k.groups and k.isa_t.unrolls[#k.isa_t.unrolls] or k.isa_t.generic_unroll
    if k.act == "silu" and k.isa_t.silu_div and k.silu == "rcp" and k.unroll == widest then
      add_kernel({ dtype = k.dtype, layout = k.layout, act = k.act, isa = k.isa, unroll = k.unroll, groups = k.groups,
                   channels = k.channels, store = k.store, order = k.order, silu = "div" })
    end
  end
end

table.sort(kernels, function(a, b)
  if a.dtype ~= b.dtype then return DTYPE_ORDER[a.dtype] < DTYPE_ORDER[b.dtype] end
  if a.layout ~= b.layout then return a.layout < b.layout end
  if a.act ~= b.act then return ACT_ORDER[a.act] < ACT_ORDER[b.act] end
  local ag, bg = a.groups or 0, b.groups or 0
  if ag ~= bg then return ag < bg end
  local ac, bc = a.channels or 0, b.channels or 0
  if ac ~= bc then return ac < bc end
  if a.isa_t.order ~= b.isa_t.order then return a.isa_t.order < b.isa_t.order end
  if a.unroll ~= b.unroll then return a.unroll < b.unroll end
  if a.store ~= b.store then return a.store < b.store end
  if a.order ~= b.order then return a.order < b.order end
  return a.silu > b.silu -- "rcp" first
end)

-- Writing, only when changed.
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function write_if_changed(path, text)
  if read_file(path) == text then return end
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
os.execute("mkdir -p '" .. out_dir .. "/kernels'")

local function args_text(k)
  return string.format("dtype=%s layout=%s act=%s groups=%s channels=%s isa=%s unroll=%d store=%s order=%s%s",
    k.dtype, k.layout, k.act, k.groups and tostring(k.groups) or "runtime",
    k.channels and tostring(k.channels) or "runtime", k.isa, k.unroll, k.store, k.order,
    k.silu == "div" and " silu=div" or "")
end

local wanted = {}
for _, k in ipairs(kernels) do
  local tpl = TEMPLATES[k.layout]
  local ok, body = pcall(template.render_file, tpl, { K = k })
  if not ok then die(k.name .. ": " .. body) end
  local text = table.concat({
    "/* Auto-generated file. Do not edit!",
    " *   Generator: " .. GENERATOR,
    " *   Template:  " .. tpl,
    " *   Arguments: " .. args_text(k),
    " * Regenerate with `make gen`; `make check-gen` verifies this file. */",
    body }, "\n")
  local file = k.name .. ".c"
  wanted[file] = true
  write_if_changed(out_dir .. "/kernels/" .. file, text)
end
-- Remove kernels that are no longer in the list (never anything else).
do
  local p = io.popen("ls '" .. out_dir .. "/kernels'")
  for f in p:lines() do
    if f:match("%.c$") and not wanted[f] then os.remove(out_dir .. "/kernels/" .. f) end
  end
  p:close()
end

local HEADER = "/* Auto-generated file. Do not edit! Generator: " .. GENERATOR .. " */\n"

-- The kernel list.
local function count_arch(arch)
  local n = 0
  for _, k in ipairs(kernels) do if k.isa_t.arch == "any" or k.isa_t.arch == arch then n = n + 1 end end
  return n
end
do
  local lines = { HEADER,
    "/* GNK_KERNEL(name, isa, dtype, layout, act, groups, channels, unroll)",
    " * groups = channels = 0 marks a generic kernel (both read at run time).",
    " * Kernels of an architecture-specific ISA sit inside #if blocks, so a",
    " * build sees exactly the kernels it compiles (x86: scalar + x86 ISAs;",
    " * aarch64: scalar + neon; any other target: scalar).",
    string.format(" * %d kernels (x86 builds: %d, aarch64 builds: %d). */", #kernels, count_arch("x86"), count_arch("aarch64")) }
  local open_arch = "any"
  for _, k in ipairs(kernels) do
    local arch = k.isa_t.arch
    if arch ~= open_arch then
      if open_arch ~= "any" then lines[#lines + 1] = "#endif" end
      if arch ~= "any" then lines[#lines + 1] = "#if " .. ARCH_GUARD[arch] end
      open_arch = arch
    end
    lines[#lines + 1] = string.format("GNK_KERNEL(%s, %s, %s, GNK_LAYOUT_%s, %s, %d, %d, %d)",
      k.name, k.isa_t.enum, DTYPE_ENUM[k.dtype], k.layout:upper(), ACT_ENUM[k.act], k.groups or 0, k.channels or 0, k.unroll)
  end
  if open_arch ~= "any" then lines[#lines + 1] = "#endif" end
  write_if_changed(out_dir .. "/gnk_kernels.inc", table.concat(lines, "\n") .. "\n")
end

-- Per-ISA source lists and compile flags, included by the Makefile (which
-- defines $(OBJ), the object directory, before including this file).
-- GNK_KERNEL_SRC: what the native (x86-64) build compiles (scalar + x86 ISAs);
-- GNK_KERNEL_SRC_AARCH64: what an aarch64 build compiles (scalar + neon);
-- GNK_ISA_FLAGS_<ISA>: each ISA's flags, for builds with another object directory.
do
  local lines = { "# Auto-generated file. Do not edit! Generator: " .. GENERATOR }
  local all, aarch64 = {}, {}
  for _, isa in ipairs(ISAS) do
    local files = {}
    for _, k in ipairs(kernels) do
      if k.isa == isa.name then files[#files + 1] = "generated/kernels/" .. k.name .. ".c" end
    end
    local var = "GNK_KERNELS_" .. isa.name:upper()
    lines[#lines + 1] = string.format("%s := \\\n  %s", var, table.concat(files, " \\\n  "))
    lines[#lines + 1] = string.format("GNK_ISA_FLAGS_%s := %s", isa.name:upper(), isa.cflags)
    lines[#lines + 1] = string.format("$(%s:%%.c=$(OBJ)/%%.o): ISA_FLAGS := %s", var, isa.cflags)
    if isa.arch == "any" or isa.arch == "x86" then all[#all + 1] = "$(" .. var .. ")" end
    if isa.arch == "any" or isa.arch == "aarch64" then aarch64[#aarch64 + 1] = "$(" .. var .. ")" end
  end
  lines[#lines + 1] = "GNK_KERNEL_SRC := " .. table.concat(all, " ")
  lines[#lines + 1] = "GNK_KERNEL_SRC_AARCH64 := " .. table.concat(aarch64, " ")
  write_if_changed(out_dir .. "/kernels.mk", table.concat(lines, "\n") .. "\n")
end

-- The embedded default workload.
do
  local lines = { HEADER,
    "/* GNK_PROBLEM(name, count, n, c, spatial, groups, eps, act) from: " .. table.concat(default_specs, ", ") .. " */" }
  for _, path in ipairs(default_specs) do
    local ok, s = pcall(spec.read, path)
    if not ok then die(s) end
    for _, p in ipairs(s.problems) do
      lines[#lines + 1] = string.format('GNK_PROBLEM("%s", %d, %d, %d, %d, %d, %s, %s)',
        p.name, p.count, p.n, p.c, p.spatial, p.groups, p.eps_text, ACT_ENUM[p.act])
    end
  end
  write_if_changed(out_dir .. "/gnk_default_workload.inc", table.concat(lines, "\n") .. "\n")
end
