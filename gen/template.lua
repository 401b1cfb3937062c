-- gen/template.lua: a tiny template engine for C kernels.
--
-- Template syntax (XNNPACK-like):
--   * a line whose first non-blank character is `$` is Lua code (the `$` is dropped);
--   * every other line is C text in which `${expr}` is replaced by tostring(expr);
--     `$$` stands for a literal `$`.
-- Emitted C carries `#line` directives pointing back at the template, so a C
-- compiler error names the template file and line, not only the generated one.
-- A Lua error inside a template is reported with the template name and line.

local M = {}

local function quote(s) return string.format("%q", s) end

-- Split `text` into lines, keeping track of 1-based line numbers.
local function lines_of(text)
  local out = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line end
  if out[#out] == "" then out[#out] = nil end
  return out
end

-- Turn one C text line into Lua code that appends it to the output buffer.
local function compile_text_line(line, lineno)
  local parts, pos = {}, 1
  while true do
    local s, e, expr = line:find("%${(.-)}", pos)
    local d = line:find("%$%$", pos, false)
    if d and (not s or d < s) then
      parts[#parts + 1] = quote(line:sub(pos, d - 1) .. "$")
      pos = d + 2
    elseif s then
      if s > pos then parts[#parts + 1] = quote(line:sub(pos, s - 1)) end
      parts[#parts + 1] = "__str(" .. expr .. ")"
      pos = e + 1
    else
      if pos <= #line then parts[#parts + 1] = quote(line:sub(pos)) end
      break
    end
  end
  if #parts == 0 then parts[1] = '""' end
  return string.format("__emit(%d, %s)", lineno, table.concat(parts, " .. "))
end

-- Compile a template into a Lua function(env) -> string.
function M.compile(text, name)
  local code = {}
  for i, line in ipairs(lines_of(text)) do
    local lua = line:match("^%s*%$(.*)$")
    if lua and not line:match("^%s*%${") and not line:match("^%s*%$%$") then
      code[#code + 1] = lua
    else
      code[#code + 1] = compile_text_line(line, i)
    end
  end
  -- One Lua line per template line keeps Lua's own error line numbers equal to
  -- the template's.
  local src = table.concat(code, "\n")
  return function(env)
    local out, last = {}, -1
    local function emit(lineno, s)
      if lineno ~= last + 1 then
        out[#out + 1] = string.format('#line %d "%s"', lineno, name)
      end
      out[#out + 1] = s
      last = lineno
    end
    local function str(v)
      if v == nil then error("template substitution is nil", 2) end
      return tostring(v)
    end
    local sandbox = setmetatable({ __emit = emit, __str = str }, { __index = function(_, k)
      local v = env[k]
      if v == nil then v = _G[k] end
      return v
    end })
    local chunk, err = load(src, "@" .. name, "t", sandbox)
    if not chunk then error("template " .. err, 0) end
    local ok, rerr = pcall(chunk)
    if not ok then error("template " .. tostring(rerr), 0) end
    return table.concat(out, "\n") .. "\n"
  end
end

function M.render_file(path, env)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return M.compile(text, path)(env)
end

return M
