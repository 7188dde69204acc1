#nullable enable
// Marks GLIBCXX version requirements of an ELF shared library weak when the system
// libstdc++ does not provide them (TorchSharp-cpu 0.107 on Debian 12, see docs/ENVIRONMENT.md).
// Compiled into the build as an MSBuild task and linked into tests.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace MathV2.Build
{
    public static class ElfVersionPatch
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>Version requirements (name, weak) of an ELF64 little-endian file; empty for non-ELF.</summary>
        public static List<KeyValuePair<string, bool>> ReadRequirements(byte[] elf)
        {
            var result = new List<KeyValuePair<string, bool>>();
            Walk(elf, (name, flagsOffset) =>
                result.Add(new KeyValuePair<string, bool>(name, (BitConverter.ToUInt16(elf, flagsOffset) & VerFlgWeak) != 0)));
            return result;
        }

        /// <summary>Sets the weak flag on every requirement for which <paramref name="isMissing"/> is true; returns what changed.</summary>
        public static List<string> MarkWeak(byte[] elf, Func<string, bool> isMissing)
        {
            var changed = new List<string>();
            Walk(elf, (name, flagsOffset) =>
            {
                ushort flags = BitConverter.ToUInt16(elf, flagsOffset);
                if ((flags & VerFlgWeak) == 0 && isMissing(name))
                {
                    flags |= VerFlgWeak;
                    elf[flagsOffset] = (byte)(flags & 0xff);
                    elf[flagsOffset + 1] = (byte)(flags >> 8);
                    changed.Add(name);
                }
            });
            return changed;
        }

        /// <summary>Patches the file in place where needed; returns the versions marked weak.</summary>
        public static List<string> PatchFile(string path, Func<string, bool> isMissing)
        {
            byte[] bytes = File.ReadAllBytes(path);
            List<string> changed = MarkWeak(bytes, isMissing);
            if (changed.Count > 0)
            {
                string tmp = path + ".patching";
                File.WriteAllBytes(tmp, bytes);
                File.Copy(tmp, path, true);
                File.Delete(tmp);
            }
            return changed;
        }

        /// <summary>A predicate that is true for GLIBCXX_* versions the system libstdc++ lacks (false for everything when none is found).</summary>
        public static Func<string, bool> MissingFromSystemLibStdCxx(out string? libPath)
        {
            libPath = FindSystemLibStdCxx();
            if (libPath == null)
                return _ => false;
            byte[] lib = File.ReadAllBytes(libPath);
            return name => name.StartsWith("GLIBCXX_", StringComparison.Ordinal) && !ContainsCString(lib, name);
        }

        public static string? FindSystemLibStdCxx()
        {
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            };
            foreach (string c in candidates)
                if (File.Exists(c))
                    return c;
            return null;
        }

        static bool ContainsCString(byte[] haystack, string s)
        {
            byte[] needle = Encoding.ASCII.GetBytes("\0" + s + "\0");
            for (int i = 0; i + needle.Length <= haystack.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && haystack[i + j] == needle[j]) j++;
                if (j == needle.Length) return true;
            }
            return false;
        }

        static void Walk(byte[] elf, Action<string, int> onVernaux)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                return;
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only ELF64 little-endian is supported");
            long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
            int shentsize = BitConverter.ToUInt16(elf, 0x3A);
            int shnum = BitConverter.ToUInt16(elf, 0x3C);
            for (int i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed)
                    continue;
                long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
                uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
                uint count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
                long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + link * shentsize) + 0x18);
                long vn = offset;
                for (uint n = 0; n < count; n++)
                {
                    int cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                    long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                    for (int a = 0; a < cnt; a++)
                    {
                        uint nameOff = BitConverter.ToUInt32(elf, (int)aux + 8);
                        onVernaux(ReadCString(elf, strtab + nameOff), (int)aux + 4);
                        uint next = BitConverter.ToUInt32(elf, (int)aux + 12);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint vnNext = BitConverter.ToUInt32(elf, (int)vn + 12);
                    if (vnNext == 0) break;
                    vn += vnNext;
                }
            }
        }

        static string ReadCString(byte[] b, long at)
        {
            int end = (int)at;
            while (b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
        }
    }

#if !ELF_PATCH_NO_TASK
    /// <summary>MSBuild task: patch the given libraries where the system libstdc++ is too old.</summary>
    public class PatchLibStdCxxRequirements : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Libraries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public override bool Execute()
        {
            Func<string, bool> missing = ElfVersionPatch.MissingFromSystemLibStdCxx(out string? lib);
            if (lib == null)
                return true;
            foreach (var item in Libraries)
            {
                if (!File.Exists(item.ItemSpec))
                    continue;
                List<string> changed = ElfVersionPatch.PatchFile(item.ItemSpec, missing);
                if (changed.Count > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        "TorchSharp fix: marked {0} weak in {1} ({2} lacks them)", string.Join(", ", changed), item.ItemSpec, lib);
            }
            return true;
        }
    }
#endif
}
