using System.Buffers.Binary;

namespace MoqLite.Benchmarks.FanOut;

/// <summary>
/// Just enough of SignalR's MessagePack hub protocol to read <c>SendAsync("f", byte[])</c>: each message is a varint
/// length and an array <c>[1, headers, invocationId, target, [arguments], streamIds]</c>; pings are <c>[6]</c>.
/// </summary>
internal static class MessagePackFrames
{
    /// <summary>
    /// Reads one length-prefixed message from the front of <paramref name="data"/>. For an invocation whose first
    /// argument is binary, reports where that payload lies; for anything else the payload length is 0.
    /// </summary>
    public static bool TryReadInvocationPayload(ReadOnlySpan<byte> data, out int consumed, out int payloadStart, out int payloadLength)
    {
        consumed = payloadStart = payloadLength = 0;
        var length = 0;
        var shift = 0;
        var prefix = 0;
        byte b;
        do
        {
            if (prefix >= data.Length || prefix == 5)
            {
                return false;
            }
            b = data[prefix++];
            length |= (b & 0x7f) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        if (data.Length < prefix + length)
        {
            return false;
        }
        consumed = prefix + length;
        var message = data.Slice(prefix, length);
        var at = 0;
        if (ArrayLength(message, ref at) < 5 || Int(message, ref at) != 1)
        {
            return true;
        }
        Skip(message, ref at); // headers
        Skip(message, ref at); // invocation id
        Skip(message, ref at); // target
        if (ArrayLength(message, ref at) < 1)
        {
            return true;
        }
        var marker = message[at++];
        var binLength = 0;
        switch (marker)
        {
            case 0xc4:
                binLength = message[at];
                at += 1;
                break;
            case 0xc5:
                binLength = BinaryPrimitives.ReadUInt16BigEndian(message[at..]);
                at += 2;
                break;
            case 0xc6:
                binLength = (int)BinaryPrimitives.ReadUInt32BigEndian(message[at..]);
                at += 4;
                break;
        }
        payloadStart = prefix + at;
        payloadLength = binLength;
        return true;
    }

    private static int ArrayLength(ReadOnlySpan<byte> m, ref int at)
    {
        var b = m[at++];
        if (b is >= 0x90 and <= 0x9f)
        {
            return b & 0x0f;
        }
        if (b != 0xdc)
        {
            return -1;
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(m[at..]);
        at += 2;
        return length;
    }

    private static int Int(ReadOnlySpan<byte> m, ref int at)
    {
        var b = m[at++];
        return b <= 0x7f ? b : b == 0xcc ? m[at++] : -1;
    }

    /// <summary>Skips one value of the kinds the hub protocol puts before the arguments: maps, nil, strings.</summary>
    private static void Skip(ReadOnlySpan<byte> m, ref int at)
    {
        var b = m[at++];
        switch (b)
        {
            case >= 0x80 and <= 0x8f:
                for (var i = 0; i < (b & 0x0f) * 2; i++)
                {
                    Skip(m, ref at);
                }
                break;
            case >= 0xa0 and <= 0xbf:
                at += b & 0x1f;
                break;
            case 0xd9:
                at += 1 + m[at];
                break;
            case 0xc0:
                break;
            default:
                throw new FormatException($"unexpected MessagePack byte 0x{b:x2}");
        }
    }
}
