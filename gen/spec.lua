-- gen/spec.lua: reads gnk spec files.
--
-- Format (one record per line; `#` starts a comment; blank lines ignored):
--   problem <name> count=<k> n=<N> c=<C> h=<H> w=<W> groups=<G> eps=<e> act=<none|silu|relu>
--       a GroupNorm problem of a model; `spatial=<S>` may replace h and w.
--   kernel layout=<nchw|nhwc> isa=<scalar|avx2|avx512> groups=<G> channels=<C> act=<...> unroll=<u> [store=st|nt] [order=blk|row] [dtype=f32|f16|bf16] [silu=rcp|div]
--       an explicit kernel variant to generate in addition to those the problems imply.
local M = {}

local ACTS = { none = true, silu = true, relu = true }

local function fail(path, lineno, msg) error(string.format("%s:%d: %s", path, lineno, msg), 0) end

local function int_field(f, key, path, lineno, min)
  local v = f[key]
  if v == nil then fail(path, lineno, "missing " .. key .. "=") end
  local n = math.tointeger(tonumber(v))
  if n == nil or n < (min or 0) then fail(path, lineno, key .. "=" .. v .. " is not an integer >= " .. (min or 0)) end
  return n
end

function M.parse(text, path)
  local problems, kernels = {}, {}
  local lineno = 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    lineno = lineno + 1
    line = line:gsub("#.*$", "")
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    if #words > 0 then
      local kind = words[1]
      local f, name = {}, nil
      for i = 2, #words do
        local k, v = words[i]:match("^([%w_]+)=(.*)$")
        if k then
          if f[k] then fail(path, lineno, "duplicate " .. k .. "=") end
          f[k] = v
        elseif kind == "problem" and i == 2 then name = words[i]
        else fail(path, lineno, "expected key=value, got '" .. words[i] .. "'") end
      end
      local act = f.act or "none"
      if not ACTS[act] then fail(path, lineno, "unknown act '" .. act .. "'") end
      if kind == "problem" then
        if not name then fail(path, lineno, "problem needs a name") end
        local p = { name = name, count = f.count and int_field(f, "count", path, lineno, 1) or 1,
          n = int_field(f, "n", path, lineno), c = int_field(f, "c", path, lineno, 1),
          groups = int_field(f, "groups", path, lineno, 1), act = act,
          eps = tonumber(f.eps or "1e-5") }
        if not p.eps or p.eps < 0 then fail(path, lineno, "bad eps") end
        if f.spatial then p.spatial = int_field(f, "spatial", path, lineno)
        else
          p.h, p.w = int_field(f, "h", path, lineno), int_field(f, "w", path, lineno)
          p.spatial = p.h * p.w
        end
        if p.c % p.groups ~= 0 then fail(path, lineno, "groups do not divide c") end
        p.eps_text = f.eps or "1e-5"
        problems[#problems + 1] = p
      elseif kind == "kernel" then
        local k = { layout = f.layout, isa = f.isa, act = act, dtype = f.dtype or "f32",
          groups = int_field(f, "groups", path, lineno, 1), channels = int_field(f, "channels", path, lineno, 1),
          unroll = int_field(f, "unroll", path, lineno, 1), store = f.store or "st",
          order = f.order or "blk", silu = f.silu or "rcp" }
        if k.silu ~= "rcp" and k.silu ~= "div" then fail(path, lineno, "silu must be rcp or div") end
        if k.silu == "div" and act ~= "silu" then fail(path, lineno, "silu=div needs act=silu") end
        if k.order ~= "blk" and k.order ~= "row" then fail(path, lineno, "order must be blk or row") end
        if k.order == "row" and k.layout ~= "nhwc" then fail(path, lineno, "order=row is channels-last only") end
        if k.store ~= "st" and k.store ~= "nt" then fail(path, lineno, "store must be st or nt") end
        if k.dtype ~= "f32" and k.dtype ~= "f16" and k.dtype ~= "bf16" then fail(path, lineno, "dtype must be f32, f16 or bf16") end
        if k.store == "nt" and k.dtype ~= "f32" then fail(path, lineno, "store=nt is f32-only") end
        if k.layout ~= "nchw" and k.layout ~= "nhwc" then fail(path, lineno, "layout must be nchw or nhwc") end
        if k.channels % k.groups ~= 0 then fail(path, lineno, "groups do not divide channels") end
        kernels[#kernels + 1] = k
      else
        fail(path, lineno, "unknown record '" .. kind .. "' (expected problem or kernel)")
      end
    end
  end
  return { problems = problems, kernels = kernels }
end

function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then error(err, 0) end
  local text = f:read("a")
  f:close()
  return M.parse(text, path)
end

return M
