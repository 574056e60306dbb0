using System.Buffers;
using System.Text;
using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>The role a client declares in SETUP.</summary>
public enum SetupRole : ulong
{
    /// <summary>Publishes and subscribes (or did not say).</summary>
    Both = 0,
    /// <summary>Only publishes.</summary>
    Publisher = 1,
    /// <summary>Only subscribes.</summary>
    Subscriber = 2,
}

/// <summary>
/// lite-05 SETUP: each side's capabilities, the only message on its Setup stream.
/// A bag of <c>id, length, value</c> parameters; unknown ids are ignored, duplicates are a violation.
/// </summary>
public readonly record struct Setup(ulong Probe, string? Path, SetupRole Role, ulong Origin) : ILiteMessage<Setup>
{
    private const ulong ProbeId = 0x1;
    private const ulong PathId = 0x2;
    private const ulong RoleId = 0x3;
    private const ulong OriginId = 0x5;
    private const int MaxParameters = 64;

    /// <inheritdoc/>
    public static string Name => "SETUP";

    /// <inheritdoc/>
    public void WriteBody(ref WireWriter writer, LiteVersion version)
    {
        var count = (Probe != 0 ? 1 : 0) + (Path is not null ? 1 : 0) + (Role != SetupRole.Both ? 1 : 0) + (Origin != 0 ? 1 : 0);
        writer.VarInt((ulong)count);
        if (Probe != 0)
        {
            VarIntParameter(ref writer, ProbeId, Probe);
        }
        if (Path is not null)
        {
            writer.VarInt(PathId);
            writer.Text(Path);
        }
        if (Role != SetupRole.Both)
        {
            VarIntParameter(ref writer, RoleId, (ulong)Role);
        }
        if (Origin != 0)
        {
            VarIntParameter(ref writer, OriginId, Origin);
        }
    }

    /// <inheritdoc/>
    public static Setup ReadBody(ref WireReader reader, LiteVersion version)
    {
        var count = reader.VarInt();
        if (count > MaxParameters)
        {
            throw new ProtocolViolationException($"SETUP: {count} parameters exceed {MaxParameters}");
        }
        ulong probe = 0, origin = 0;
        string? path = null;
        var role = SetupRole.Both;
        Span<ulong> seen = stackalloc ulong[MaxParameters];
        for (var i = 0; i < (int)count; i++)
        {
            var id = reader.VarInt();
            if (seen[..i].Contains(id))
            {
                throw new ProtocolViolationException($"SETUP: duplicate parameter 0x{id:x}");
            }
            seen[i] = id;
            var value = reader.Bytes((long)reader.VarInt());
            switch (id)
            {
                case ProbeId:
                    probe = Math.Min(ParameterVarInt(value), 2);
                    break;
                case PathId:
                    path = DecodeUtf8(value);
                    break;
                case RoleId:
                    role = ParameterVarInt(value) switch { 1 => SetupRole.Publisher, 2 => SetupRole.Subscriber, _ => SetupRole.Both };
                    break;
                case OriginId:
                    origin = ParameterVarInt(value);
                    break;
            }
        }
        return new Setup(probe, path, role, origin);
    }

    private static void VarIntParameter(ref WireWriter writer, ulong id, ulong value)
    {
        writer.VarInt(id);
        writer.VarInt((ulong)VarInt.Size(value));
        writer.VarInt(value);
    }

    private static ulong ParameterVarInt(ReadOnlySequence<byte> value)
    {
        var reader = new WireReader(value, "SETUP parameter");
        var result = reader.VarInt();
        reader.End();
        return result;
    }

    private static string DecodeUtf8(ReadOnlySequence<byte> value)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(value.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolViolationException("SETUP: path is not valid UTF-8");
        }
    }
}
