/// Opaque ids: a short prefix that tells a reader what the id names, then 20 random characters.
public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + "_" + String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
