# Reads "a<TAB>b" lines; prints -1, 0, 1, or "invalid" per line, using RubyGems' Gem::Version.
out = STDIN.read.split("\n").map do |line|
  a, b = line.split("\t", 2)
  if Gem::Version.correct?(a) && Gem::Version.correct?(b)
    (Gem::Version.new(a) <=> Gem::Version.new(b)).to_s
  else
    "invalid"
  end
end
puts out.join("\n")
