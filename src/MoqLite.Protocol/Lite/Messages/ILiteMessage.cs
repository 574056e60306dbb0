using MoqLite.Coding;

namespace MoqLite.Lite.Messages;

/// <summary>A MOQ Lite message body: its fields, independent of the size prefix that frames it.</summary>
public interface ILiteMessage<TSelf> where TSelf : ILiteMessage<TSelf>
{
    /// <summary>The message name used in errors and logs.</summary>
    static abstract string Name { get; }

    /// <summary>Writes (or counts) the body fields for <paramref name="version"/>.</summary>
    void WriteBody(ref WireWriter writer, LiteVersion version);

    /// <summary>Reads the body fields for <paramref name="version"/>.</summary>
    static abstract TSelf ReadBody(ref WireReader reader, LiteVersion version);
}
